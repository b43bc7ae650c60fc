/**
 * JSON as Python's json module writes it, for files v1 users (and v1's own readers) expect:
 * floats in Python's repr (1.0, 1e-05, 1.2345678901234568e+17), NaN and Infinity as bare words,
 * non-ASCII escaped, and the layout of json.dump(..., indent=4, sort_keys=True), which is how
 * batchgenerators' save_json writes summary.json. Python ints are represented by `bigint`, Python
 * floats by `number`, so 3 and 3.0 stay apart.
 */

export type PyJson = null | boolean | string | number | bigint | PyJson[] | { [key: string]: PyJson };

/** Python's repr of a float (shortest round-trip digits; scientific below 1e-4 and from 1e16). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  const sign = x < 0 ? '-' : '';
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

/** A JSON string literal with ensure_ascii: everything outside printable ASCII as \uXXXX. */
function pythonString(s: string): string {
  return JSON.stringify(s).replace(
    /[^\x20-\x7e]/g,
    (ch) => `\\u${(ch.charCodeAt(0) as number).toString(16).padStart(4, '0')}`,
  );
}

function scalar(v: PyJson): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return pythonString(v);
  if (typeof v === 'number') return pythonFloatRepr(v);
  if (typeof v === 'bigint') return v.toString();
  return undefined;
}

/** json.dumps(value) with its default separators (', ' and ': '), keys in insertion order. */
export function pythonDumps(value: PyJson): string {
  const s = scalar(value);
  if (s !== undefined) return s;
  if (Array.isArray(value)) return `[${value.map(pythonDumps).join(', ')}]`;
  const obj = value as { [key: string]: PyJson };
  return `{${Object.keys(obj)
    .map((k) => `${pythonString(k)}: ${pythonDumps(obj[k] as PyJson)}`)
    .join(', ')}}`;
}

/** json.dump(value, f, indent=4, sort_keys=True): what batchgenerators' save_json writes (no final newline). */
export function pythonDumpIndented(value: PyJson, indent = 4, level = 0): string {
  const s = scalar(value);
  if (s !== undefined) return s;
  const pad = ' '.repeat(indent * (level + 1));
  const close = ' '.repeat(indent * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + pythonDumpIndented(v, indent, level + 1)).join(',\n')}\n${close}]`;
  }
  const obj = value as { [key: string]: PyJson };
  const keys = Object.keys(obj).sort();
  if (keys.length === 0) return '{}';
  const items = keys.map((k) => `${pad}${pythonString(k)}: ${pythonDumpIndented(obj[k] as PyJson, indent, level + 1)}`);
  return `{\n${items.join(',\n')}\n${close}}`;
}

/**
 * JSON.parse that also accepts Python's NaN, Infinity and -Infinity outside strings (as v1's
 * summary.json files contain). Numbers come back as plain numbers.
 */
export function parsePythonJson(text: string): unknown {
  const marks = ['NaN', 'Infinity', '-Infinity'] as const;
  // A private-use marker that the text holds neither raw nor escaped, so no real string can clash.
  let tag = '\ue000py';
  while (text.includes(tag) || text.toLowerCase().includes(`\\ue000py${tag.slice(3)}`)) tag += '_';
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const word = marks.find((m) => text.startsWith(m, i));
    if (word !== undefined) {
      out += JSON.stringify(`${tag}${word}`);
      i += word.length - 1;
      continue;
    }
    out += ch;
  }
  const values: Record<string, number> = {
    [`${tag}NaN`]: Number.NaN,
    [`${tag}Infinity`]: Number.POSITIVE_INFINITY,
    [`${tag}-Infinity`]: Number.NEGATIVE_INFINITY,
  };
  return JSON.parse(out, (_key, v) => (typeof v === 'string' && Object.hasOwn(values, v) ? values[v] : v));
}
