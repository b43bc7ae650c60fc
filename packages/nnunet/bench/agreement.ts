/**
 * Voxel agreement of two folders of segmentations (the same case file names in both), e.g. one
 * model's predictions in bf16 and in float32:
 *
 *   node packages/nnunet/dist/bench/agreement.js FOLDER_A FOLDER_B [--ties]
 *     -> {"cases": N, "voxels": V, "agreement": fraction equal, "worst_case": ..., "worst_agreement": ...}
 *
 * --ties: FOLDER_A also holds each case's softmax (nnUNet_predict -z, no postprocessing), and the
 * voxels that differ are split into near-ties (A's two most probable classes within TIE_MARGIN,
 * where any arithmetic difference may flip the label) and the rest: "differing_beyond_ties".
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSoftmaxNpz } from '../src/inference/ensemble.js';
import { readImage } from '../src/io/image.js';

/** Probabilities this close are a tie (the .npz stores float16: steps of 2^-11 near 0.5). */
const TIE_MARGIN = 5e-3;

const args = process.argv.slice(2);
const ties = args.includes('--ties');
const [a, b] = args.filter((x) => x !== '--ties');
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
let beyondTies = 0;
for (const name of names) {
  const x = await readImage(join(a, name));
  const y = await readImage(join(b, name));
  if (x.data.length !== y.data.length) {
    console.error(`${name}: ${x.shape} in ${a} but ${y.shape} in ${b}`);
    process.exit(1);
  }
  let same = 0;
  for (let i = 0; i < x.data.length; i++) if (x.data[i] === y.data[i]) same++;
  if (ties && same < x.data.length) {
    // The softmax is (classes, ...the image's array shape), voxels in the segmentation's order.
    const { values, shape } = readSoftmaxNpz(join(a, name.replace(/\.nii\.gz$/, '.npz')));
    const n = x.data.length;
    const classes = shape[0] as number;
    for (let i = 0; i < n; i++) {
      if (x.data[i] === y.data[i]) continue;
      let first = 0;
      let second = 0;
      for (let c = 0; c < classes; c++) {
        const p = values[c * n + i] as number;
        if (p > first) {
          second = first;
          first = p;
        } else if (p > second) second = p;
      }
      if (first - second >= TIE_MARGIN) beyondTies++;
    }
  }
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
    differing: voxels - equal,
    ...(ties ? { differing_beyond_ties: beyondTies, tie_margin: TIE_MARGIN } : {}),
  }),
);
