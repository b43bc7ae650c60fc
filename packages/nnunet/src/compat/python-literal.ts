/**
 * A reader for the small Python literals v1 stores as text in postprocessing.json
 * (min_valid_object_sizes is str() of a dict such as "{(1, 2): 1234.5, 3: 40.0}", or "None"),
 * covering what ast.literal_eval accepts there: None, True/False, numbers, strings, tuples, lists
 * and dicts. NumPy 2's scalar reprs (np.float64(12.5)) are read as their number.
 */

/** Tuples and lists become arrays, dicts become Maps (their keys may be tuples). */
export type PythonLiteral = null | boolean | number | string | PythonLiteral[] | Map<PythonLiteral, PythonLiteral>;

export function parsePythonLiteral(text: string): PythonLiteral {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at character ${i + 1}`);
  };
  const skip = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const expect = (ch: string) => {
    skip();
    if (text[i] !== ch) fail(`expected "${ch}"`);
    i++;
  };
  const value = (): PythonLiteral => {
    skip();
    const ch = text[i];
    if (ch === undefined) return fail('unexpected end');
    if (ch === '{') return dict();
    if (ch === '(' || ch === '[') return sequence(ch === '(' ? ')' : ']');
    if (ch === '"' || ch === "'") return string(ch);
    const word = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))?.[0];
    if (word !== undefined) {
      i += word.length;
      if (word === 'None') return null;
      if (word === 'True') return true;
      if (word === 'False') return false;
      // NumPy scalar reprs: np.float64(1.5), numpy.int64(3).
      if (/^(np|numpy)\.(float|int|uint)(16|32|64)$/.test(word)) {
        expect('(');
        const v = value();
        expect(')');
        if (typeof v !== 'number') fail(`${word}() needs a number`);
        return v;
      }
      return fail(`unknown name "${word}"`);
    }
    const num = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i))?.[0];
    if (num !== undefined) {
      i += num.length;
      return Number(num);
    }
    return fail(`unexpected "${ch}"`);
  };
  const sequence = (close: string): PythonLiteral[] => {
    i++;
    const out: PythonLiteral[] = [];
    for (;;) {
      skip();
      if (text[i] === close) {
        i++;
        return out;
      }
      out.push(value());
      skip();
      if (text[i] === ',') i++;
      else if (text[i] !== close) fail(`expected "," or "${close}"`);
    }
  };
  const dict = (): Map<PythonLiteral, PythonLiteral> => {
    i++;
    const out = new Map<PythonLiteral, PythonLiteral>();
    for (;;) {
      skip();
      if (text[i] === '}') {
        i++;
        return out;
      }
      const k = value();
      expect(':');
      out.set(k, value());
      skip();
      if (text[i] === ',') i++;
      else if (text[i] !== '}') fail('expected "," or "}"');
    }
  };
  const string = (quote: string): string => {
    i++;
    let s = '';
    while (i < text.length && text[i] !== quote) {
      if (text[i] === '\\') i++;
      s += text[i] ?? '';
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    return s;
  };
  const v = value();
  skip();
  if (i < text.length) fail('unexpected text after the value');
  return v;
}
