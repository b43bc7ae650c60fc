/** The addon's exports and their TypeScript declarations (src/native-ops.generated.ts) agree. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { handWrittenOpNames, native } from '../src/native.js';

// dist/test -> the package root, where the generated source and the generator live.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('every function the addon exports is declared, and every declared op is exported', () => {
  const source = readFileSync(join(root, 'src', 'native-ops.generated.ts'), 'utf8');
  const declared = [...source.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1] as string);
  assert.ok(declared.length > 100, `only ${declared.length} ops declared: the file's layout changed`);
  assert.equal(new Set(declared).size, declared.length, 'an op is declared twice');
  // The addon's exports are non-enumerable properties of its module object.
  const exports = native as unknown as Record<string, unknown>;
  const exported = Object.getOwnPropertyNames(exports).filter((k) => typeof exports[k] === 'function');
  const expected = new Set([...declared, ...handWrittenOpNames]);
  const undeclared = exported.filter((k) => !expected.has(k));
  const missing = [...expected].filter((k) => !exported.includes(k));
  assert.deepEqual({ undeclared, missing }, { undeclared: [], missing: [] });
});

test('the declared parameter and result types are those of the C++ conversions', () => {
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'gen-native.mjs'), '--check'], { stdio: 'pipe' });
  } catch (e) {
    assert.fail(String((e as { stderr?: Buffer }).stderr ?? e));
  }
});
