/**
 * The augmentations of the second stage of nnU-Net v1's cascade (nnUNetTrainerV2CascadeFullRes with
 * get_moreDA_augmentation): the low-resolution segmentation travels through the spatial transform
 * as a second segmentation channel, is then turned into one-hot data channels (one per foreground
 * label), and those channels are perturbed so the network learns not to trust them blindly:
 *
 *  - a random binary morphological operator (dilation, erosion, closing or opening with a ball of
 *    random radius) per label channel, where voxels a channel gains are taken from the others;
 *  - removal of a random connected component of a label channel, optionally given to another label.
 *
 * Everything works on float32 C-order typed arrays ([B, C, Z, Y, X]); the morphology matches
 * scikit-image's binary_* with its ball() footprint (SciPy's ndimage semantics, border handling
 * included), and connected components are 26-connected like skimage.measure.label.
 */
import { NnunetError } from '../../errors.js';
import { product } from '../../util/shape.js';

/** The random numbers the cascade augmentations draw (AugmentationRandom provides them). */
export interface UniformSource {
  /** Uniform in [0, 1). */
  random(): number;
}

/** Morphological operators ApplyRandomBinaryOperatorTransform chooses from, in v1's order. */
export const BINARY_OPERATORS = ['dilation', 'erosion', 'closing', 'opening'] as const;
export type BinaryOperator = (typeof BINARY_OPERATORS)[number];

export interface CascadeAugmentationParams {
  /** Per sample: probability of applying a random binary operator (v1 0.4). */
  binaryOperatorProbability: number;
  /** Per label channel, once a sample was chosen (v1 1). */
  binaryOperatorProbabilityPerLabel: number;
  /** Ball radius drawn uniformly from this range (v1 (1, 8)). */
  binaryOperatorRadius: readonly [number, number];
  /** Per sample: probability of removing a connected component (v1 0.2). */
  removeComponentProbability: number;
  /** Per label channel, once a sample was chosen (v1 1). */
  removeComponentProbabilityPerLabel: number;
  /**
   * Only components with fewer voxels than this fraction of the patch are candidates (the
   * transform's dont_do_if_covers_more_than_X_percent, a fraction despite its name).
   */
  removeComponentMaxFraction: number;
  /** Probability that a removed component is given to another, random label channel. */
  removeComponentFillWithOtherClassProbability: number;
}

/**
 * The parameters nnUNetTrainerV2CascadeFullRes runs with. Its setup_DA_params asks for components
 * below 15 % of the patch to be removed and never refilled, but get_moreDA_augmentation passes
 * the two values to the transform the other way round (the size limit becomes 0 and the refill
 * probability 0.15). With a size limit of 0 no component is ever a candidate, so v1's trainer in
 * effect never removes one (it still draws its random numbers). We reproduce what v1 runs;
 * CASCADE_AUGMENTATION_AS_DOCUMENTED holds the values v1's setup names.
 */
export const CASCADE_AUGMENTATION_V1: CascadeAugmentationParams = {
  binaryOperatorProbability: 0.4,
  binaryOperatorProbabilityPerLabel: 1,
  binaryOperatorRadius: [1, 8],
  removeComponentProbability: 0.2,
  removeComponentProbabilityPerLabel: 1,
  removeComponentMaxFraction: 0,
  removeComponentFillWithOtherClassProbability: 0.15,
};

/** v1's cascade parameters as its setup_DA_params states them (limit 15 %, no refill). */
export const CASCADE_AUGMENTATION_AS_DOCUMENTED: CascadeAugmentationParams = {
  ...CASCADE_AUGMENTATION_V1,
  removeComponentMaxFraction: 0.15,
  removeComponentFillWithOtherClassProbability: 0,
};

function fail(message: string): never {
  throw new NnunetError('ERR_ARGUMENT', message);
}

/**
 * MoveSegAsOneHotToData: data [B, C, ...] and seg [B, 2, ...] (channel 1 the previous stage's
 * labels) become data [B, C + L, ...] (one channel per entry of `labels`, 1 where the previous
 * segmentation has that label) and seg [B, 1, ...] (channel 0).
 */
export function moveSegAsOneHotToData(
  data: Float32Array,
  dataShape: readonly number[],
  seg: Float32Array,
  segShape: readonly number[],
  labels: readonly number[],
): { data: Float32Array; dataShape: number[]; seg: Float32Array; segShape: number[] } {
  const [B, C, ...spatial] = dataShape as [number, number, ...number[]];
  if (segShape.length !== dataShape.length || segShape[0] !== B || segShape[1] !== 2)
    fail(`moveSegAsOneHotToData: seg must be [${B}, 2, ...], got [${segShape.join(', ')}].`);
  if (segShape.slice(2).some((s, i) => s !== spatial[i]))
    fail(`moveSegAsOneHotToData: seg [${segShape.join(', ')}] and data [${dataShape.join(', ')}] differ in size.`);
  const n = product(spatial);
  if (data.length !== B * C * n || seg.length !== B * 2 * n)
    fail('moveSegAsOneHotToData: array lengths do not match their shapes.');
  const L = labels.length;
  const outData = new Float32Array(B * (C + L) * n);
  const outSeg = new Float32Array(B * n);
  for (let b = 0; b < B; b++) {
    outData.set(data.subarray(b * C * n, (b + 1) * C * n), b * (C + L) * n);
    outSeg.set(seg.subarray(b * 2 * n, b * 2 * n + n), b * n);
    const prev = seg.subarray(b * 2 * n + n, (b + 1) * 2 * n);
    labels.forEach((label, k) => {
      const dst = outData.subarray((b * (C + L) + C + k) * n, (b * (C + L) + C + k + 1) * n);
      for (let i = 0; i < n; i++) if (prev[i] === label) dst[i] = 1;
    });
  }
  return { data: outData, dataShape: [B, C + L, ...spatial], seg: outSeg, segShape: [B, 1, ...spatial] };
}

/**
 * skimage.morphology.ball(radius) for a real radius: an m x m x m mask, m = floor(2 r + 1), over
 * the grid of m evenly spaced coordinates from -r to r per axis, set where x² + y² + z² <= r².
 */
export function ballFootprint(radius: number): { size: number; mask: Uint8Array } {
  if (!(radius > 0) || !Number.isFinite(radius)) fail(`ball radius must be a positive number, got ${radius}.`);
  const m = Math.trunc(2 * radius + 1);
  const step = m > 1 ? (radius - -radius) / (m - 1) : 0;
  const coord = Array.from({ length: m }, (_, k) => k * step + -radius);
  const r2 = radius * radius;
  const mask = new Uint8Array(m * m * m);
  for (let z = 0; z < m; z++)
    for (let y = 0; y < m; y++)
      for (let x = 0; x < m; x++) {
        const cz = coord[z] as number;
        const cy = coord[y] as number;
        const cx = coord[x] as number;
        // numpy's X**2 + Y**2 + Z**2, in that order
        if (cx * cx + cy * cy + cz * cz <= r2) mask[(z * m + y) * m + x] = 1;
      }
  return { size: m, mask };
}

/** A footprint as runs along x: offsets (dz, dy) from the centre and x offsets [lo, hi]. */
interface FootprintRow {
  dz: number;
  dy: number;
  lo: number;
  hi: number;
}

function footprintRows(size: number, mask: Uint8Array): FootprintRow[] {
  // SciPy puts the origin of a footprint of size m at index m // 2 (even sizes included).
  const c = Math.floor(size / 2);
  const rows: FootprintRow[] = [];
  for (let z = 0; z < size; z++)
    for (let y = 0; y < size; y++) {
      let x = 0;
      while (x < size) {
        if (mask[(z * size + y) * size + x] === 0) {
          x++;
          continue;
        }
        const start = x;
        while (x < size && mask[(z * size + y) * size + x] === 1) x++;
        rows.push({ dz: z - c, dy: y - c, lo: start - c, hi: x - 1 - c });
      }
    }
  return rows;
}

/** Per (z, y) row: prefix counts of set voxels (X + 1 entries per row). */
function rowPrefix(src: Uint8Array, shape: readonly [number, number, number]): Int32Array {
  const [Z, Y, X] = shape;
  const out = new Int32Array(Z * Y * (X + 1));
  for (let r = 0; r < Z * Y; r++) {
    let acc = 0;
    const s = r * X;
    const d = r * (X + 1);
    for (let x = 0; x < X; x++) {
      acc += src[s + x] as number;
      out[d + x + 1] = acc;
    }
  }
  return out;
}

/** Bounding box of the set voxels ([z0, y0, x0], [z1, y1, x1] inclusive), or null when empty. */
function boundingBox(src: Uint8Array, shape: readonly [number, number, number]): [number[], number[]] | null {
  const [Z, Y, X] = shape;
  const lo = [Z, Y, X];
  const hi = [-1, -1, -1];
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        if (src[(z * Y + y) * X + x] === 0) continue;
        if (z < (lo[0] as number)) lo[0] = z;
        if (y < (lo[1] as number)) lo[1] = y;
        if (x < (lo[2] as number)) lo[2] = x;
        if (z > (hi[0] as number)) hi[0] = z;
        if (y > (hi[1] as number)) hi[1] = y;
        if (x > (hi[2] as number)) hi[2] = x;
      }
  return (hi[0] as number) < 0 ? null : [lo, hi];
}

function checkVolume(src: Uint8Array, shape: readonly number[]): [number, number, number] {
  if (shape.length !== 3 || !shape.every((s) => Number.isInteger(s) && s > 0))
    fail(`binary morphology needs a (z, y, x) shape, got [${shape.join(', ')}].`);
  if (src.length !== product(shape)) fail(`binary morphology: ${src.length} values for shape [${shape.join(', ')}].`);
  return shape as [number, number, number];
}

/**
 * scipy.ndimage.binary_dilation with `footprint` (border value 0): a voxel is set when any voxel at
 * p - d, d a footprint offset, is set.
 */
export function binaryDilation(
  src: Uint8Array,
  shape: readonly number[],
  footprint: { size: number; mask: Uint8Array },
): Uint8Array {
  const [Z, Y, X] = checkVolume(src, shape);
  const out = new Uint8Array(src.length);
  const box = boundingBox(src, [Z, Y, X]);
  if (box === null) return out;
  const rows = footprintRows(footprint.size, footprint.mask);
  const prefix = rowPrefix(src, [Z, Y, X]);
  const reach = Math.floor(footprint.size / 2) + 1;
  const [blo, bhi] = box;
  const z0 = Math.max(0, (blo[0] as number) - reach);
  const z1 = Math.min(Z - 1, (bhi[0] as number) + reach);
  const y0 = Math.max(0, (blo[1] as number) - reach);
  const y1 = Math.min(Y - 1, (bhi[1] as number) + reach);
  const x0 = Math.max(0, (blo[2] as number) - reach);
  const x1 = Math.min(X - 1, (bhi[2] as number) + reach);
  for (const { dz, dy, lo, hi } of rows) {
    for (let z = z0; z <= z1; z++) {
      const sz = z - dz;
      if (sz < 0 || sz >= Z) continue;
      for (let y = y0; y <= y1; y++) {
        const sy = y - dy;
        if (sy < 0 || sy >= Y) continue;
        const p = (sz * Y + sy) * (X + 1);
        if (prefix[p + X] === 0) continue;
        const o = (z * Y + y) * X;
        // sources x - d for d in [lo, hi]: the window [x - hi, x - lo]
        for (let x = x0; x <= x1; x++) {
          if (out[o + x] === 1) continue;
          const a = Math.max(0, x - hi);
          const b = Math.min(X - 1, x - lo);
          if (a > b) continue;
          if ((prefix[p + b + 1] as number) - (prefix[p + a] as number) > 0) out[o + x] = 1;
        }
      }
    }
  }
  return out;
}

/**
 * scipy.ndimage.binary_erosion with `footprint` and border value 1 (skimage's binary_erosion): a
 * voxel stays set when every voxel at p + d, d a footprint offset, is set or outside the volume.
 */
export function binaryErosion(
  src: Uint8Array,
  shape: readonly number[],
  footprint: { size: number; mask: Uint8Array },
): Uint8Array {
  const [Z, Y, X] = checkVolume(src, shape);
  const out = new Uint8Array(src.length);
  const box = boundingBox(src, [Z, Y, X]);
  if (box === null) return out;
  const rows = footprintRows(footprint.size, footprint.mask);
  if (rows.length === 0) return out.fill(1);
  const prefix = rowPrefix(src, [Z, Y, X]);
  const [blo, bhi] = box;
  // Only set voxels can stay set; within the box, start from all set and remove.
  for (let z = blo[0] as number; z <= (bhi[0] as number); z++)
    for (let y = blo[1] as number; y <= (bhi[1] as number); y++)
      for (let x = blo[2] as number; x <= (bhi[2] as number); x++) out[(z * Y + y) * X + x] = 1;
  for (const { dz, dy, lo, hi } of rows) {
    for (let z = blo[0] as number; z <= (bhi[0] as number); z++) {
      const sz = z + dz;
      if (sz < 0 || sz >= Z) continue;
      for (let y = blo[1] as number; y <= (bhi[1] as number); y++) {
        const sy = y + dy;
        if (sy < 0 || sy >= Y) continue;
        const p = (sz * Y + sy) * (X + 1);
        const o = (z * Y + y) * X;
        for (let x = blo[2] as number; x <= (bhi[2] as number); x++) {
          if (out[o + x] === 0) continue;
          // targets x + d for d in [lo, hi], those inside the volume must all be set
          const a = Math.max(0, x + lo);
          const b = Math.min(X - 1, x + hi);
          if (a > b) continue;
          if ((prefix[p + b + 1] as number) - (prefix[p + a] as number) !== b - a + 1) out[o + x] = 0;
        }
      }
    }
  }
  return out;
}

/** skimage's binary operators with a footprint: closing is dilation then erosion, opening the reverse. */
export function binaryOperation(
  op: BinaryOperator,
  src: Uint8Array,
  shape: readonly number[],
  footprint: { size: number; mask: Uint8Array },
): Uint8Array {
  switch (op) {
    case 'dilation':
      return binaryDilation(src, shape, footprint);
    case 'erosion':
      return binaryErosion(src, shape, footprint);
    case 'closing':
      return binaryErosion(binaryDilation(src, shape, footprint), shape, footprint);
    case 'opening':
      return binaryDilation(binaryErosion(src, shape, footprint), shape, footprint);
    default:
      return fail(`unknown binary operator ${String(op)}.`);
  }
}

/**
 * Connected components of the nonzero voxels with full (26-) connectivity, as
 * skimage.measure.label: labels 1..count numbered in raster order of each component's first voxel.
 */
export function labelComponents(
  src: ArrayLike<number>,
  shape: readonly number[],
): { labels: Int32Array; count: number; sizes: number[] } {
  const [Z, Y, X] = shape as [number, number, number];
  const n = Z * Y * X;
  const parent = new Int32Array(n).fill(-1);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[i] !== r) {
      const next = parent[i] as number;
      parent[i] = r;
      i = next;
    }
    return r;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    // the smaller index is the root, so a root is its component's first voxel in raster order
    if (ra < rb) parent[rb] = ra;
    else parent[ra] = rb;
  };
  for (let z = 0; z < Z; z++)
    for (let y = 0; y < Y; y++)
      for (let x = 0; x < X; x++) {
        const i = (z * Y + y) * X + x;
        if (src[i] === 0) continue;
        parent[i] = i;
        // the 13 neighbours that precede (z, y, x) in raster order
        for (let dz = -1; dz <= 0; dz++)
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
              const zz = z + dz;
              const yy = y + dy;
              const xx = x + dx;
              if (zz < 0 || yy < 0 || yy >= Y || xx < 0 || xx >= X) continue;
              const j = (zz * Y + yy) * X + xx;
              if (parent[j] !== -1) union(i, j);
            }
      }
  const labels = new Int32Array(n);
  const idOfRoot = new Map<number, number>();
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    if (parent[i] === -1) continue;
    const r = find(i);
    let id = idOfRoot.get(r);
    if (id === undefined) {
      id = idOfRoot.size + 1;
      idOfRoot.set(r, id);
      sizes.push(0);
    }
    labels[i] = id;
    sizes[id - 1] = (sizes[id - 1] as number) + 1;
  }
  return { labels, count: idOfRoot.size, sizes };
}

/** A uniform integer in [0, n). */
function choice(rng: UniformSource, n: number): number {
  return Math.min(n - 1, Math.floor(rng.random() * n));
}

/** Where the one-hot channels lie: data [B, C, Z, Y, X], channels `channels`. */
interface OneHotView {
  data: Float32Array;
  shape: readonly number[];
  channels: readonly number[];
}

function checkView(v: OneHotView): { B: number; C: number; spatial: number[]; n: number } {
  const [B, C, ...spatial] = v.shape as [number, number, ...number[]];
  if (spatial.length !== 3) fail(`cascade augmentation needs 3-D data [B, C, Z, Y, X], got [${v.shape.join(', ')}].`);
  const n = product(spatial);
  if (v.data.length !== B * C * n) fail('cascade augmentation: data length does not match its shape.');
  for (const c of v.channels) if (!Number.isInteger(c) || c < 0 || c >= C) fail(`channel ${c} is not in [0, ${C}).`);
  return { B, C, spatial, n };
}

/**
 * ApplyRandomBinaryOperatorTransform on the one-hot `channels` of data [B, C, Z, Y, X], in place:
 * per sample with probability p, the channels in random order, each with probability pPerLabel:
 * a random operator with a ball of radius U(radius); voxels the channel gained are cleared in the
 * other channels (voxels it lost stay background).
 */
export function applyRandomBinaryOperator_(
  data: Float32Array,
  shape: readonly number[],
  channels: readonly number[],
  rng: UniformSource,
  o: { probability: number; probabilityPerLabel: number; radius: readonly [number, number] },
): void {
  const { B, C, spatial, n } = checkView({ data, shape, channels });
  for (let b = 0; b < B; b++) {
    if (!(rng.random() < o.probability)) continue;
    const order = [...channels];
    // numpy's shuffle: Fisher-Yates from the end
    for (let i = order.length - 1; i > 0; i--) {
      const j = choice(rng, i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    for (const c of order) {
      if (!(rng.random() < o.probabilityPerLabel)) continue;
      const op = BINARY_OPERATORS[choice(rng, BINARY_OPERATORS.length)] as BinaryOperator;
      const [lo, hi] = o.radius;
      const radius = lo === hi ? lo : lo + (hi - lo) * rng.random();
      const view = data.subarray((b * C + c) * n, (b * C + c + 1) * n);
      const before = new Uint8Array(n);
      // v1 casts the channel to int: values are 0 / 1 here
      for (let i = 0; i < n; i++) before[i] = Math.trunc(view[i] as number) !== 0 ? 1 : 0;
      const after = binaryOperation(op, before, spatial, ballFootprint(radius));
      for (let i = 0; i < n; i++) view[i] = after[i] as number;
      for (const other of order) {
        if (other === c) continue;
        const ov = data.subarray((b * C + other) * n, (b * C + other + 1) * n);
        for (let i = 0; i < n; i++) if ((after[i] as number) > (before[i] as number)) ov[i] = 0;
      }
    }
  }
}

/**
 * RemoveRandomConnectedComponentFromOneHotEncodingTransform on the one-hot `channels` of data
 * [B, C, Z, Y, X], in place: per sample with probability p, per channel (in order) with
 * probability pPerLabel: among the channel's 26-connected components with fewer voxels than
 * maxFraction of the patch, one chosen uniformly is cleared, and with probability fillProbability
 * set in another random channel of `channels`.
 */
export function removeRandomConnectedComponent_(
  data: Float32Array,
  shape: readonly number[],
  channels: readonly number[],
  rng: UniformSource,
  o: { probability: number; probabilityPerLabel: number; maxFraction: number; fillProbability: number },
): void {
  const { B, C, spatial, n } = checkView({ data, shape, channels });
  for (let b = 0; b < B; b++) {
    if (!(rng.random() < o.probability)) continue;
    for (const c of channels) {
      if (!(rng.random() < o.probabilityPerLabel)) continue;
      const view = data.subarray((b * C + c) * n, (b * C + c + 1) * n);
      const { labels, count, sizes } = labelComponents(view, spatial);
      if (count === 0) continue;
      const candidates: number[] = [];
      sizes.forEach((s, k) => {
        if (s < n * o.maxFraction) candidates.push(k + 1);
      });
      if (candidates.length === 0) continue;
      const chosen = candidates[choice(rng, candidates.length)] as number;
      for (let i = 0; i < n; i++) if (labels[i] === chosen) view[i] = 0;
      if (rng.random() < o.fillProbability) {
        const others = channels.filter((k) => k !== c);
        if (others.length > 0) {
          const other = others[choice(rng, others.length)] as number;
          const ov = data.subarray((b * C + other) * n, (b * C + other + 1) * n);
          for (let i = 0; i < n; i++) if (labels[i] === chosen) ov[i] = 1;
        }
      }
    }
  }
}

/**
 * The cascade steps after the regular augmentation: the previous stage's labels (seg channel 1)
 * to one-hot data channels, then (when `params` is given, i.e. for training batches) the binary
 * operator and the component removal on those channels.
 */
export function cascadeBatchTransform(
  batch: { data: Float32Array; dataShape: readonly number[]; seg: Float32Array; segShape: readonly number[] },
  labels: readonly number[],
  params: CascadeAugmentationParams | null,
  rng: UniformSource | null,
): { data: Float32Array; dataShape: number[]; seg: Float32Array; segShape: number[] } {
  const moved = moveSegAsOneHotToData(batch.data, batch.dataShape, batch.seg, batch.segShape, labels);
  if (params === null) return moved;
  if (rng === null) fail('cascade augmentation needs a random source.');
  const C = moved.dataShape[1] as number;
  const channels = labels.map((_, k) => C - labels.length + k);
  if (params.binaryOperatorProbability > 0)
    applyRandomBinaryOperator_(moved.data, moved.dataShape, channels, rng, {
      probability: params.binaryOperatorProbability,
      probabilityPerLabel: params.binaryOperatorProbabilityPerLabel,
      radius: params.binaryOperatorRadius,
    });
  if (params.removeComponentProbability > 0)
    removeRandomConnectedComponent_(moved.data, moved.dataShape, channels, rng, {
      probability: params.removeComponentProbability,
      probabilityPerLabel: params.removeComponentProbabilityPerLabel,
      maxFraction: params.removeComponentMaxFraction,
      fillProbability: params.removeComponentFillWithOtherClassProbability,
    });
  return moved;
}
