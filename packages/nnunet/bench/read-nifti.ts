/**
 * Benchmark (prints figures; not a test): reading the NIfTI files of an MSD task (images and labels)
 * with readImage's TypeScript NIfTI decoder and with itk-wasm, in alternating passes over all cases
 * (TypeScript first in even rounds, itk-wasm first in odd ones) after one warm-up pass of each.
 * Passes rather than single files alternate because an itk-wasm read leaves garbage (WebAssembly
 * instances) whose collection would otherwise be timed in the next TypeScript read. Prints one JSON line.
 *
 *   node dist/bench/read-nifti.js      (after the build)
 *   BENCH_HIPPOCAMPUS=/path/to/Task04_Hippocampus  default: the bundled 32-case subset in data/
 *   BENCH_ROUNDS=N                                 default: 3
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readImage } from '../src/io/image.js';
import { requireMsdTask, requirePositiveInt } from './common.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const input = resolve(process.env.BENCH_HIPPOCAMPUS ?? join(repoRoot, 'data', 'Task04_Hippocampus'));
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
requirePositiveInt('BENCH_ROUNDS', rounds, 3);
requireMsdTask(input);

const niftis = (folder: string) =>
  readdirSync(join(input, folder))
    .filter((f) => !f.startsWith('.') && (f.endsWith('.nii.gz') || f.endsWith('.nii')))
    .sort()
    .map((f) => join(input, folder, f));
const images = niftis('imagesTr');
const labels = niftis('labelsTr');
// A case: its image file(s) and its label. The MSD layout names both CASE.nii.gz; v1's raw layout
// has imagesTr/CASE_0000.nii.gz.
const stem = (f: string) => f.slice(f.lastIndexOf('/') + 1).replace(/\.nii(\.gz)?$/, '');
const cases = labels.map((label) => {
  const id = stem(label);
  return [...images.filter((f) => stem(f) === id || stem(f).startsWith(`${id}_`)), label];
});
const files = cases.flat();

async function readAll(paths: string[], niftiReader: 'auto' | 'itk-wasm'): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (const p of paths) await readImage(p, { niftiReader });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

await readAll(files, 'auto');
await readAll(files, 'itk-wasm');
let fast = 0;
let itk = 0;
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    fast += await readAll(files, 'auto');
    itk += await readAll(files, 'itk-wasm');
  } else {
    itk += await readAll(files, 'itk-wasm');
    fast += await readAll(files, 'auto');
  }
}
console.log(
  JSON.stringify({
    bench: 'read-nifti',
    task: input,
    cases: cases.length,
    files: files.length,
    rounds,
    typescript_s: Number(fast.toFixed(4)),
    itk_wasm_s: Number(itk.toFixed(4)),
    typescript_ms_per_file: Number(((1000 * fast) / (rounds * files.length)).toFixed(3)),
    itk_wasm_ms_per_file: Number(((1000 * itk) / (rounds * files.length)).toFixed(3)),
    speedup: Number((itk / fast).toFixed(2)),
  }),
);
