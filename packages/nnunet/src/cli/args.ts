// Hand-written: commander and util.parseArgs allow one-letter short options only (-pl3d fails); yargs can, but is heavy, untyped on Node and has no integer type.
/**
 * Typed argument parsing for the nnUNet_* commands, which keep nnU-Net v1's argparse spelling:
 * single-dash long options (-tr, -pl3d, -output_task_id) next to one-letter ones and --flags,
 * `strings` options taking every value up to the next option (-f 0 1 2), and positional arguments
 * (nnUNet_train CONFIGURATION TRAINER TASK FOLD). A command declares its options once with
 * defineCommand; parseArgs returns an object typed from that declaration and usage() prints the
 * help from it. Unknown options and bad values are NnunetError('ERR_ARGUMENT'), one sentence.
 */
import { NnunetError } from '../errors.js';

interface OptionBase {
  /** The option as typed, in v1's spelling: '-tr', '-pl3d', '--disable_tta'. */
  readonly flag: string;
  /** Other spellings of the same option, e.g. '--folders' for '-f'. */
  readonly aliases?: readonly string[];
  readonly help: string;
}

/** Present or not: the value is true or false. */
export interface FlagOption extends OptionBase {
  readonly type: 'flag';
}

export interface IntOption extends OptionBase {
  readonly type: 'int';
  readonly required?: boolean;
  readonly default?: number;
  /** Smallest accepted value. */
  readonly min?: number;
}

export interface StringOption extends OptionBase {
  readonly type: 'string';
  readonly required?: boolean;
  /** Shown in the help as "(default ...)"; of the type `parse` returns when there is one. */
  readonly default?: unknown;
  /** The only accepted values; the parsed value is typed as their union. */
  readonly choices?: readonly string[];
  /** Turns the text into the option's value; throws NnunetError naming `flag` when the text is bad. */
  readonly parse?: (text: string, flag: string) => unknown;
}

/** Takes every following argument up to the next option. */
export interface StringsOption extends OptionBase {
  readonly type: 'strings';
  readonly required?: boolean;
  readonly default?: unknown;
  readonly choices?: readonly string[];
  readonly parse?: (values: string[], flag: string) => unknown;
}

export type OptionDecl = FlagOption | IntOption | StringOption | StringsOption;

/** A required positional argument; the arguments that are neither options nor their values fill them in order. */
export interface PositionalDecl {
  /** Property name in the parsed object. */
  readonly key: string;
  /** As shown in the usage line, e.g. 'CONFIGURATION'. */
  readonly name: string;
  /** What it is, phrased to follow "give", e.g. 'the task name'. */
  readonly help: string;
  readonly parse?: (text: string, name: string) => unknown;
}

export interface Command<
  O extends Readonly<Record<string, OptionDecl>> = Readonly<Record<string, OptionDecl>>,
  P extends readonly PositionalDecl[] = readonly PositionalDecl[],
> {
  readonly name: string;
  readonly summary: string;
  /** A complete invocation, quoted when positional arguments are missing. */
  readonly example?: string;
  readonly positionals: P;
  readonly options: O;
}

type ParsedValue<O> = O extends { parse: (raw: never, flag: string) => infer T }
  ? T
  : O extends { type: 'flag' }
    ? boolean
    : O extends { type: 'int' }
      ? number
      : O extends { type: 'string'; choices: readonly (infer C)[] }
        ? C
        : O extends { type: 'string' }
          ? string
          : O extends { type: 'strings'; choices: readonly (infer C)[] }
            ? C[]
            : string[];

/** Whether the option always has a value: flags, required options and those with a default. */
type AlwaysSet<O> = O extends { type: 'flag' } | { required: true } | { default: unknown } ? true : false;

type OptionValue<O> =
  | ParsedValue<O>
  | (O extends { default: infer D } ? D : never)
  | (AlwaysSet<O> extends true ? never : undefined);

type PositionalValues<P extends readonly PositionalDecl[]> = {
  readonly [E in P[number] as E['key']]: E extends { parse: (text: string, name: string) => infer T } ? T : string;
};

type Flatten<T> = { [K in keyof T]: T[K] };

/** What parseArgs returns for a command: one property per option and positional argument. */
export type Args<C> =
  C extends Command<infer O, infer P>
    ? Flatten<{ readonly [K in keyof O]: OptionValue<O[K]> } & PositionalValues<P>>
    : never;

interface Declaration {
  name: string;
  summary: string;
  /** A complete invocation, quoted when positional arguments are missing. */
  example?: string;
}

/**
 * Declares a command. `const` inference keeps the literal types (choices, required: true) that
 * Args<> reads; a key or flag declared twice is a programming error and throws at once.
 */
export function defineCommand<const O extends Readonly<Record<string, OptionDecl>>>(
  declaration: Declaration & { options: O },
): Command<O, []>;
export function defineCommand<
  const O extends Readonly<Record<string, OptionDecl>>,
  const P extends readonly PositionalDecl[],
>(declaration: Declaration & { positionals: P; options: O }): Command<O, P>;
export function defineCommand(
  declaration: Declaration & { positionals?: readonly PositionalDecl[]; options: Readonly<Record<string, OptionDecl>> },
): Command {
  const command: Command = { ...declaration, positionals: declaration.positionals ?? [] };
  flagTable(command);
  const keys = [...Object.keys(command.options), ...command.positionals.map((p) => p.key)];
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice !== undefined) throw new Error(`${command.name}: the key ${twice} is declared twice.`);
  return command;
}

interface Entry {
  key: string;
  decl: OptionDecl;
}

function flagTable(command: Command): Map<string, Entry> {
  const table = new Map<string, Entry>();
  for (const [key, decl] of Object.entries(command.options)) {
    for (const flag of [decl.flag, ...(decl.aliases ?? [])]) {
      if (table.has(flag) || flag === '-h' || flag === '--help')
        throw new Error(`${command.name}: the option ${flag} is declared twice.`);
      table.set(flag, { key, decl });
    }
  }
  return table;
}

function fail(command: Command, why: string): never {
  throw new NnunetError('ERR_ARGUMENT', `${why} (see ${command.name} -h).`);
}

/** "a", "a and b", "a, b and c". */
function listing(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * Parses argv (without node and the script) into the typed values of `command`; null when -h or
 * --help asks for the usage. An argument that starts with a dash and a letter is an option (so
 * negative numbers are values); `--` ends the options; `-opt=value` is accepted as argparse does.
 */
export function parseArgs<C extends Command>(command: C, argv: readonly string[]): Args<C> | null {
  const table = flagTable(command);
  const split = (arg: string): [string, string | undefined] => {
    const eq = arg.indexOf('=');
    return eq > 0 && table.has(arg.slice(0, eq)) ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
  };
  const isOption = (arg: string) => table.has(split(arg)[0]) || arg === '--' || /^--?[A-Za-z]/.test(arg);
  const rest = [...argv];
  const takeValue = (): string | undefined => {
    const next = rest[0];
    if (next === undefined || isOption(next)) return undefined;
    return rest.shift();
  };
  const values: Record<string, unknown> = {};
  const positional: string[] = [];
  let optionsEnded = false;
  for (let arg = rest.shift(); arg !== undefined; arg = rest.shift()) {
    if (optionsEnded || !isOption(arg)) {
      positional.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') return null;
    const [flag, inline] = split(arg);
    const entry = table.get(flag);
    if (entry === undefined) fail(command, `unknown option ${arg}`);
    const { key, decl } = entry;
    if (decl.type === 'flag') {
      if (inline !== undefined) fail(command, `option ${flag} takes no value, got "${arg}"`);
      values[key] = true;
    } else if (decl.type === 'strings') {
      const texts = inline === undefined ? [] : [inline];
      for (let next = takeValue(); next !== undefined; next = takeValue()) texts.push(next);
      if (texts.length === 0) fail(command, `option ${flag} needs a value`);
      for (const text of texts) checkChoice(command, flag, decl.choices, text);
      values[key] = decl.parse === undefined ? texts : decl.parse(texts, flag);
    } else {
      const text = inline ?? takeValue();
      if (text === undefined) fail(command, `option ${flag} needs a value`);
      values[key] =
        decl.type === 'int' ? parseInteger(command, flag, decl, text) : parseText(command, flag, decl, text);
    }
  }
  for (const [key, decl] of Object.entries(command.options)) {
    if (Object.hasOwn(values, key)) continue;
    if (decl.type === 'flag') values[key] = false;
    else if (decl.required === true) fail(command, `option ${decl.flag} is required`);
    else values[key] = decl.default;
  }
  const missing = command.positionals.slice(positional.length);
  if (missing.length > 0) {
    const example = command.example === undefined ? '' : `, e.g. ${command.example}`;
    fail(command, `give ${listing(missing.map((p) => p.help))}${example}`);
  }
  const extra = positional[command.positionals.length];
  if (extra !== undefined) fail(command, `unexpected argument "${extra}"`);
  command.positionals.forEach((p, i) => {
    const text = positional[i] ?? '';
    values[p.key] = p.parse === undefined ? text : p.parse(text, p.name);
  });
  // `values` now holds exactly the properties and value types Args<C> derives from the declaration.
  return values as Args<C>;
}

function checkChoice(command: Command, flag: string, choices: readonly string[] | undefined, text: string): void {
  if (choices !== undefined && !choices.includes(text))
    fail(command, `option ${flag} must be one of ${choices.join(', ')}, got "${text}"`);
}

function parseInteger(command: Command, flag: string, decl: IntOption, text: string): number {
  if (!/^-?\d+$/.test(text)) fail(command, `option ${flag} needs an integer, got "${text}"`);
  const n = Number(text);
  if (decl.min !== undefined && n < decl.min) fail(command, `option ${flag} must be at least ${decl.min}, got ${n}`);
  return n;
}

function parseText(command: Command, flag: string, decl: StringOption, text: string): unknown {
  checkChoice(command, flag, decl.choices, text);
  return decl.parse === undefined ? text : decl.parse(text, flag);
}

function shown(value: unknown): string {
  if (Array.isArray(value)) return value.map(shown).join(' ');
  return value === null ? 'None' : String(value);
}

function valueName(decl: OptionDecl): string {
  if (decl.type === 'flag') return '';
  if (decl.type === 'int') return ' N';
  const one = decl.choices === undefined ? 'VALUE' : `{${decl.choices.join(',')}}`;
  return decl.type === 'strings' ? ` ${one} [${one} ...]` : ` ${one}`;
}

/** The -h text: usage line, summary, then every positional argument and option with its help. */
export function usage(command: Command): string {
  const line = (left: string, help: string) => `  ${left.padEnd(34)} ${help}`;
  const names = command.positionals.map((p) => `${p.name} `).join('');
  const out = [`usage: ${command.name} ${names}[options]`, command.summary, ''];
  if (command.positionals.length > 0) {
    out.push('arguments:', ...command.positionals.map((p) => line(p.name, p.help)), '');
  }
  out.push('options:');
  for (const decl of Object.values(command.options)) {
    const notes: string[] = [];
    if (decl.type !== 'flag' && decl.required === true) notes.push('(required)');
    if (decl.type !== 'flag' && decl.default !== undefined) notes.push(`(default ${shown(decl.default)})`);
    const flags = [decl.flag, ...(decl.aliases ?? [])].join(', ');
    out.push(line(`${flags}${valueName(decl)}`, [decl.help, ...notes].join(' ')));
  }
  out.push(line('-h, --help', 'show this help'));
  return out.join('\n');
}
