/**
 * Voxel agreement of two folders of segmentations (the same case file names in both), e.g. one
 * model's predictions in bf16 and in float32:
 *
 *   node packages/nnunet/dist/bench/agreement.js FOLDER_A FOLDER_B
 *     -> {"cases": N, "voxels": V, "agreement": fraction equal, "worst_case": ..., "worst_agreement": ...}
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readImage } from '../src/io/image.js';

const [a, b] = process.argv.slice(2);
if (a === undefined || b === undefined) {
  console.error('usage: agreement.js FOLDER_A FOLDER_B (segmentations with the same file names)');
  process.exit(2);
}
const names = readdirSync(a)
  .filter((f) => f.endsWith('.nii.gz'))
  .sort();
let voxels = 0;
let equal = 0;
let worst = { name: '', agreement: 1 };
for (const name of names) {
  const x = await readImage(join(a, name));
  const y = await readImage(join(b, name));
  if (x.data.length !== y.data.length) {
    console.error(`${name}: ${x.shape} in ${a} but ${y.shape} in ${b}`);
    process.exit(1);
  }
  let same = 0;
  for (let i = 0; i < x.data.length; i++) if (x.data[i] === y.data[i]) same++;
  voxels += x.data.length;
  equal += same;
  if (same / x.data.length < worst.agreement) worst = { name, agreement: same / x.data.length };
}
console.log(
  JSON.stringify({
    cases: names.length,
    voxels,
    agreement: Number((equal / voxels).toFixed(6)),
    worst_case: worst.name,
    worst_agreement: Number(worst.agreement.toFixed(6)),
  }),
);
