/**
 * Entry wrapper of every command: user errors (NnunetError, TorchError) print one line and exit
 * 1; anything else is a bug and prints its stack (exit 2).
 */
import { type CommandSpec, type ParsedArgs, parseArgs, usage } from './args.js';

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

export async function runCommand(spec: CommandSpec, main: (args: ParsedArgs) => Promise<void>): Promise<void> {
  try {
    const args = parseArgs(spec, process.argv.slice(2));
    if (args === null) {
      process.stdout.write(`${usage(spec)}\n`);
      return;
    }
    await main(args);
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`${spec.name}: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `${spec.name}: internal error, please report it:\n${e instanceof Error ? e.stack : String(e)}\n`,
      );
      process.exitCode = 2;
    }
  }
}
