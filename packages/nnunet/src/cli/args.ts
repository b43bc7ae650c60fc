/**
 * Argument parsing for the nnUNet_* commands, which keep nnU-Net v1's single-dash long options
 * (-output_task_id, -tl) next to short ones and --flags. Unknown options are errors.
 */
import { NnunetError } from '../errors.js';

export type OptionSpec =
  | { kind: 'string'; help: string; required?: boolean }
  | { kind: 'int'; help: string; required?: boolean }
  | { kind: 'strings'; help: string; required?: boolean }
  | { kind: 'flag'; help: string };

export interface CommandSpec {
  name: string;
  summary: string;
  /** Option names exactly as typed, e.g. '-i', '-output_task_id', '--verify_dataset_integrity'. */
  options: Record<string, OptionSpec>;
}

export type ParsedArgs = Map<string, string | number | boolean | string[]>;

export function usage(spec: CommandSpec): string {
  const lines = Object.entries(spec.options).map(([name, o]) => {
    const arg =
      o.kind === 'flag' ? '' : o.kind === 'strings' ? ' VALUE [VALUE ...]' : o.kind === 'int' ? ' N' : ' VALUE';
    const req = 'required' in o && o.required ? ' (required)' : '';
    return `  ${`${name}${arg}`.padEnd(34)} ${o.help}${req}`;
  });
  return `usage: ${spec.name} [options]\n${spec.summary}\n\n${lines.join('\n')}\n  ${'-h, --help'.padEnd(34)} show this help`;
}

/** Parses argv; throws NnunetError('ERR_ARGUMENT') naming the bad option. Returns null for --help. */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs | null {
  const out: ParsedArgs = new Map();
  const bad = (why: string): never => {
    throw new NnunetError('ERR_ARGUMENT', `${why} (see ${spec.name} -h).`);
  };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i] as string;
    if (name === '-h' || name === '--help') return null;
    const o = spec.options[name];
    if (o === undefined) bad(`unknown option ${name}`);
    const opt = o as OptionSpec;
    if (opt.kind === 'flag') {
      out.set(name, true);
      continue;
    }
    const values: string[] = [];
    while (i + 1 < argv.length && !isOptionName(spec, argv[i + 1] as string)) {
      values.push(argv[++i] as string);
      if (opt.kind !== 'strings') break;
    }
    if (values.length === 0) bad(`option ${name} needs a value`);
    if (opt.kind === 'int') {
      const v = values[0] as string;
      if (!/^-?\d+$/.test(v)) bad(`option ${name} needs an integer, got "${v}"`);
      out.set(name, Number(v));
    } else {
      out.set(name, opt.kind === 'strings' ? values : (values[0] as string));
    }
  }
  for (const [name, o] of Object.entries(spec.options)) {
    if ('required' in o && o.required && !out.has(name)) bad(`option ${name} is required`);
  }
  return out;
}

function isOptionName(spec: CommandSpec, s: string): boolean {
  return s in spec.options || s === '-h' || s === '--help' || (/^--?[A-Za-z]/.test(s) && !/^-\d/.test(s));
}
