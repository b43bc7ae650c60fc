/**
 * Entry wrapper of every command: user errors (NnunetError, TorchError) print one line and exit
 * 1; anything else is a bug and prints its stack (exit 2).
 */
import { type Args, type Command, parseArgs, usage } from './args.js';

interface CodedError {
  code: string;
  message: string;
}

function isUserError(e: unknown): e is CodedError {
  return (
    e instanceof Error &&
    (e.name === 'NnunetError' || e.name === 'TorchError') &&
    typeof (e as { code?: unknown }).code === 'string'
  );
}

/** Parses process.argv for `command` (printing the usage for -h) and runs `main` with the typed values. */
export async function runCommand<C extends Command>(command: C, main: (args: Args<C>) => Promise<void>): Promise<void> {
  try {
    const args = parseArgs(command, process.argv.slice(2));
    if (args === null) {
      process.stdout.write(`${usage(command)}\n`);
      return;
    }
    await main(args);
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`${command.name}: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `${command.name}: internal error, please report it:\n${e instanceof Error ? e.stack : String(e)}\n`,
      );
      process.exitCode = 2;
    }
  }
}
