/**
 * Sliding-window prediction as nnU-Net v1 does it (SegmentationNetwork in
 * network_architecture/neural_network.py): pad the case to at least the patch size, run the network
 * on overlapping patches, average the softmax of every mirrored copy of a patch, weight each patch
 * by a Gaussian importance map, sum into accumulators and divide by the summed weights.
 *
 * Arrays are C-order Float32Arrays in [C, Z, Y, X] (3-D) or [C, Y, X] (2-D) order; outputs are
 * softmax probabilities [K, ...spatial] in the same spatial order. The arithmetic on the
 * accumulators (float32 adds, multiplies and the final divide, in v1's order) is v1's own, so
 * with the same network outputs the probabilities equal v1's bit for bit.
 */
import { autocast, cat, type Device, F, inferenceMode, keep, type Tensor, tensor, tidy, zeros } from '@nnunet/torch';
import { roundHalfEven } from '../compat/numpy.js';
import { pairwiseSumF64 } from '../compat/numpy-sum.js';
import { NnunetError } from '../errors.js';
import { product } from '../util/shape.js';

/**
 * A segmentation network as a function: logits [1, K, ...patch] for an input [1, C, ...patch]
 * (float32, contiguous, on the prediction device). It must return the full-resolution logits
 * only: for a deep-supervision network, return its first (highest-resolution) output. Tensors it
 * creates are freed after every patch, so it need not dispose of them; it must not dispose its input.
 */
export type NetworkFn = (x: Tensor) => Tensor;

export interface SlidingWindowOptions {
  /** The training patch size, one value per spatial axis. */
  patchSize: readonly number[];
  /** Number of output channels (classes, background included). */
  numClasses: number;
  /** Window step as a fraction of the patch size, in (0, 1]; v1's default 0.5. */
  stepSize?: number;
  /**
   * Spatial axes (0-based, of the patch) along which test-time mirroring may flip; every
   * combination of them is predicted and averaged. [] disables mirroring. Defaults to all axes
   * (v1's trainers mirror along (0, 1, 2) in 3-D and (0, 1) in 2-D).
   */
  mirrorAxes?: readonly number[];
  /** Weight patches by the Gaussian importance map (default true, as v1's trainers call it). */
  useGaussian?: boolean;
  /** Where patches run and the accumulators live (default 'cpu'); the network must be there too. */
  device?: Device;
  /**
   * Run the network under autocast (float16) on CUDA (default true). Ignored on the CPU: v1 used
   * torch.cuda.amp.autocast, which leaves CPU ops in float32.
   */
  mixedPrecision?: boolean;
  /**
   * The network's arithmetic on the CPU: 'float32' (default; v1's numbers bit for bit) or
   * 'bfloat16' (CPU autocast: convolutions in bf16; softmax, mirroring average, Gaussian weighting
   * and accumulation stay float32).
   */
  cpuPrecision?: 'float32' | 'bfloat16';
  /**
   * How many network inputs (window x mirror combinations, in v1's order) one forward pass takes
   * (default 1). Results are the same up to the last bits of the convolutions.
   */
  windowsPerForward?: number;
  /** Called after every patch (every mirrored set of predictions) with patches done and total. */
  onProgress?: (done: number, total: number) => void;
}

export interface SlidingWindowResult {
  /** Softmax probabilities, C order. */
  softmax: Float32Array;
  /** [K, ...spatial]: the input's spatial shape with K channels. */
  shape: number[];
}

/** [start, stop) per axis, as batchgenerators' slicer. */
export type Slicer = [number, number][];

/**
 * Voxels one batched forward pass may hold (windows x mirrors x patch voxels). Measured on a
 * 2-core Zen CPU with the hippocampus network (patch 40x56x40, bf16): 2 inputs per pass were 8 %
 * faster than 1, 8 were twice as slow (the activations leave the caches), so the batch stays small.
 */
export const WINDOW_BATCH_VOXELS = 2 ** 18;

/** Network inputs per forward pass for a patch under WINDOW_BATCH_VOXELS (at least 1, at most 8). */
export function windowBatch(patchSize: readonly number[]): number {
  return Math.min(8, Math.max(1, Math.floor(WINDOW_BATCH_VOXELS / product(patchSize))));
}

/** Stand-in step length for an axis with a single window (v1's placeholder; never multiplied by more than 0). */
const SINGLE_WINDOW_STEP = 99999999999;
/** v1's Gaussian sigma: one eighth of the patch size per axis. */
export const GAUSSIAN_SIGMA_SCALE = 1 / 8;
/** scipy.ndimage.gaussian_filter's default truncation: the kernel reaches out 4 sigma. */
const GAUSSIAN_TRUNCATE = 4.0;
/** scipy.ndimage.gaussian_filter skips axes whose sigma is not above this. */
const SCIPY_MIN_SIGMA = 1e-15;

function argError(message: string): NnunetError {
  return new NnunetError('ERR_ARGUMENT', message);
}

function checkPositiveInts(name: string, values: readonly number[]): void {
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw argError(`${name} must be a non-empty list of positive integers, got [${String(values)}]`);
  }
}

// ---------------------------------------------------------------- window positions

/**
 * The start of every window along each axis (v1's _compute_steps_for_sliding_window): an axis of
 * `imageSize` voxels gets ceil((image - patch) / (patch * stepSize)) + 1 windows, spread evenly
 * from 0 to image - patch and rounded half to even (np.round). `imageSize` must be at least the
 * patch size on every axis (pad first); v1's assertion of this never fired, here it throws.
 */
export function computeSteps(patchSize: readonly number[], imageSize: readonly number[], stepSize: number): number[][] {
  checkPositiveInts('patchSize', patchSize);
  checkPositiveInts('imageSize', imageSize);
  if (imageSize.length !== patchSize.length) {
    throw argError(`imageSize [${imageSize}] and patchSize [${patchSize}] need the same number of axes`);
  }
  if (!(stepSize > 0 && stepSize <= 1)) throw argError(`stepSize must be in (0, 1], got ${stepSize}`);
  return patchSize.map((p, axis) => {
    const n = imageSize[axis] as number;
    if (n < p) throw argError(`image size ${n} is smaller than the patch size ${p} on axis ${axis}; pad it first`);
    const count = Math.ceil((n - p) / (p * stepSize)) + 1;
    const last = n - p;
    const spacing = count > 1 ? last / (count - 1) : SINGLE_WINDOW_STEP;
    return Array.from({ length: count }, (_, i) => roundHalfEven(spacing * i));
  });
}

// ---------------------------------------------------------------- Gaussian importance map

/**
 * scipy's 1-D Gaussian kernel (_gaussian_kernel1d, order 0): exp(-x^2 / (2 sigma^2)) for
 * x = -radius..radius, with radius = int(4 sigma + 0.5), divided by its NumPy sum.
 */
function gaussianKernel1d(sigma: number): Float64Array {
  const radius = Math.trunc(GAUSSIAN_TRUNCATE * sigma + 0.5);
  const c = -0.5 / (sigma * sigma);
  const phi = new Float64Array(2 * radius + 1);
  for (let i = 0; i < phi.length; i++) {
    const x = i - radius;
    phi[i] = Math.exp(c * (x * x));
  }
  const total = pairwiseSumF64(phi);
  for (let i = 0; i < phi.length; i++) phi[i] = (phi[i] as number) / total;
  return phi;
}

/**
 * The Gaussian importance map of a patch (v1's _get_gaussian): a unit impulse at the patch centre
 * (index size // 2 per axis) blurred with scipy.ndimage.gaussian_filter (sigma = size * sigmaScale
 * per axis, mode 'constant', truncate 4), divided by its maximum, times `valueScalingFactor`, cast to
 * float32, with exact zeros replaced by the smallest nonzero value (v1 divides by sums of this map).
 *
 * The separable filter of an impulse is the outer product of the 1-D kernels, multiplied axis by
 * axis in float64 exactly as scipy's passes do, so the result is scipy's float32 map. The one
 * possible difference: scipy's kernel calls NumPy's exp, whose AVX-512 variant differs from V8's
 * Math.exp in the last bit for some arguments; no float32 map we checked changes because of it.
 * Returns C order, shape `patchSize`.
 */
export function gaussianImportanceMap(
  patchSize: readonly number[],
  sigmaScale = GAUSSIAN_SIGMA_SCALE,
  valueScalingFactor = 1,
): Float32Array {
  checkPositiveInts('patchSize', patchSize);
  if (!(sigmaScale >= 0) || !Number.isFinite(sigmaScale)) throw argError(`sigmaScale must be >= 0, got ${sigmaScale}`);
  if (!(valueScalingFactor > 0) || !Number.isFinite(valueScalingFactor)) {
    throw argError(`valueScalingFactor must be positive, got ${valueScalingFactor}`);
  }
  // Per axis, the filtered impulse profile: kernel weight at distance i - centre, 0 outside reach.
  const profiles = patchSize.map((size) => {
    const centre = Math.floor(size / 2);
    const profile = new Float64Array(size);
    const sigma = size * sigmaScale;
    if (!(sigma > SCIPY_MIN_SIGMA)) {
      profile[centre] = 1; // scipy leaves this axis unfiltered
      return profile;
    }
    const kernel = gaussianKernel1d(sigma);
    const radius = (kernel.length - 1) / 2;
    for (let i = 0; i < size; i++) {
      const d = i - centre;
      if (Math.abs(d) <= radius) profile[i] = kernel[d + radius] as number;
    }
    return profile;
  });
  // Products in scipy's axis order: ((1 * w0) * w1) * w2.
  const n = product(patchSize);
  const values = new Float64Array(n).fill(1);
  let inner = n;
  for (const profile of profiles) {
    const size = profile.length;
    inner /= size;
    for (let i = 0; i < n; i++) values[i] = (values[i] as number) * (profile[Math.floor(i / inner) % size] as number);
  }
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if ((values[i] as number) > max) max = values[i] as number;
  const out = new Float32Array(n);
  let minNonzero = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(((values[i] as number) / max) * valueScalingFactor);
    out[i] = v;
    if (v !== 0 && v < minNonzero) minNonzero = v;
  }
  for (let i = 0; i < n; i++) if (out[i] === 0) out[i] = minNonzero;
  return out;
}

// ---------------------------------------------------------------- padding

export interface Padding {
  /** The padded shape (all axes of the array). */
  shape: number[];
  /** Voxels added before and after, per axis of the array. */
  before: number[];
  after: number[];
  /** [start, stop) of the original data inside the padded array, per axis. */
  slicer: Slicer;
}

/**
 * batchgenerators' pad_nd_image arithmetic: the last minShape.length axes of `shape` grow to at
 * least `minShape` (never shrink); the extra voxels are split floor(d / 2) before and the rest after.
 */
export function padAmounts(shape: readonly number[], minShape: readonly number[]): Padding {
  if (minShape.length > shape.length) {
    throw argError(`cannot pad a [${shape}] array to ${minShape.length} axes [${minShape}]`);
  }
  const lead = shape.length - minShape.length;
  const before: number[] = [];
  const after: number[] = [];
  shape.forEach((size, axis) => {
    const grow = axis < lead ? 0 : Math.max((minShape[axis - lead] as number) - size, 0);
    before.push(Math.floor(grow / 2));
    after.push(grow - Math.floor(grow / 2));
  });
  const padded = shape.map((s, a) => s + (before[a] as number) + (after[a] as number));
  return {
    shape: padded,
    before,
    after,
    slicer: padded.map((s, a) => [before[a] as number, s - (after[a] as number)]),
  };
}

/** Copies the `extent`-sized block at `srcStart` of `src` (C order) to `dstStart` of `dst`, row by row. */
function copyBlock(
  src: Float32Array,
  srcShape: readonly number[],
  srcStart: readonly number[],
  dst: Float32Array,
  dstShape: readonly number[],
  dstStart: readonly number[],
  extent: readonly number[],
): void {
  const nd = extent.length;
  const stridesOf = (shape: readonly number[]): number[] => shape.map((_, a) => product(shape.slice(a + 1)));
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  const rowLength = extent[nd - 1] as number;
  const rows = product(extent.slice(0, nd - 1));
  const index = new Array<number>(Math.max(nd - 1, 0)).fill(0);
  for (let r = 0; r < rows; r++) {
    let so = srcStart[nd - 1] as number;
    let doff = dstStart[nd - 1] as number;
    for (let a = 0; a < nd - 1; a++) {
      so += ((srcStart[a] as number) + (index[a] as number)) * (ss[a] as number);
      doff += ((dstStart[a] as number) + (index[a] as number)) * (ds[a] as number);
    }
    dst.set(src.subarray(so, so + rowLength), doff);
    for (let a = nd - 2; a >= 0; a--) {
      index[a] = (index[a] as number) + 1;
      if ((index[a] as number) < (extent[a] as number)) break;
      index[a] = 0;
    }
  }
}

function checkData(data: Float32Array, shape: readonly number[]): void {
  checkPositiveInts('shape', shape);
  if (data.length !== product(shape)) {
    throw argError(`data has ${data.length} values but shape [${shape}] needs ${product(shape)}`);
  }
}

/**
 * pad_nd_image(data, patchSize, 'constant', value 0, return_slicer=True): pads the last
 * patchSize.length axes with zeros up to at least the patch size (split as in `padAmounts`) and
 * returns the slicer that `cropPadding` uses to undo it. Returns `data` itself when nothing is padded.
 */
export function padToPatch(
  data: Float32Array,
  shape: readonly number[],
  patchSize: readonly number[],
): { data: Float32Array; shape: number[]; slicer: Slicer } {
  checkData(data, shape);
  const pad = padAmounts(shape, patchSize);
  if (pad.shape.every((s, a) => s === shape[a])) return { data, shape: [...shape], slicer: pad.slicer };
  const out = new Float32Array(product(pad.shape));
  copyBlock(
    data,
    shape,
    shape.map(() => 0),
    out,
    pad.shape,
    pad.before,
    shape,
  );
  return { data: out, shape: pad.shape, slicer: pad.slicer };
}

/**
 * The inverse of `padToPatch`: the block `slicer` of a padded array. A slicer with fewer entries
 * than the array has axes applies to the last axes (leading axes, such as the class axis of a
 * softmax whose slicer came from the input, are kept whole), as v1 applies the input's slicer.
 */
export function cropPadding(
  data: Float32Array,
  shape: readonly number[],
  slicer: Slicer,
): { data: Float32Array; shape: number[] } {
  checkData(data, shape);
  const lead = shape.length - slicer.length;
  if (lead < 0) throw argError(`slicer has ${slicer.length} axes but the array only ${shape.length}`);
  const start = shape.map((_, a) => (a < lead ? 0 : (slicer[a - lead] as [number, number])[0]));
  const stop = shape.map((s, a) => (a < lead ? s : (slicer[a - lead] as [number, number])[1]));
  stop.forEach((e, a) => {
    if (
      !(
        Number.isInteger(start[a]) &&
        (start[a] as number) >= 0 &&
        e <= (shape[a] as number) &&
        e > (start[a] as number)
      )
    ) {
      throw argError(`slicer [${start[a]}, ${e}) does not fit axis ${a} of size ${shape[a]}`);
    }
  });
  const extent = stop.map((e, a) => e - (start[a] as number));
  const out = new Float32Array(product(extent));
  copyBlock(
    data,
    shape,
    start,
    out,
    extent,
    extent.map(() => 0),
    extent,
  );
  return { data: out, shape: extent };
}

// ---------------------------------------------------------------- test-time mirroring

/**
 * The flips v1 predicts for a patch with `spatialDims` axes, in its order, restricted to
 * `mirrorAxes`: v1 walks m = 0 .. 2^d - 1 and bit b of m flips spatial axis d - 1 - b (3-D:
 * none, X, Y, XY, Z, ZX, ZY, ZYX), keeping a flip only if all its axes may be mirrored. Each
 * prediction is weighted 1 / 2^mirrorAxes.length. Returned lists hold spatial axes.
 */
export function mirrorCombinations(spatialDims: number, mirrorAxes: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 2 ** spatialDims; m++) {
    const axes: number[] = [];
    for (let b = 0; b < spatialDims; b++) if (m & (1 << b)) axes.push(spatialDims - 1 - b);
    if (axes.every((a) => mirrorAxes.includes(a))) out.push(axes);
  }
  return out;
}

// ---------------------------------------------------------------- prediction

interface Resolved {
  patch: number[];
  numClasses: number;
  stepSize: number;
  flips: number[][];
  weight: number;
  useGaussian: boolean;
  device: Device;
  autocastCuda: boolean;
  autocastCpu: boolean;
  perForward: number;
}

function resolveOptions(o: SlidingWindowOptions, spatialDims: number): Resolved {
  const patch = [...o.patchSize];
  checkPositiveInts('patchSize', patch);
  if (patch.length !== spatialDims) {
    throw argError(`patchSize needs ${spatialDims} values for this network, got [${patch}]`);
  }
  if (!Number.isInteger(o.numClasses) || o.numClasses < 1) {
    throw argError(`numClasses must be a positive integer, got ${o.numClasses}`);
  }
  const stepSize = o.stepSize ?? 0.5;
  if (!(stepSize > 0 && stepSize <= 1)) throw argError(`stepSize must be in (0, 1], got ${stepSize}`);
  const mirrorAxes = [...(o.mirrorAxes ?? Array.from({ length: spatialDims }, (_, a) => a))];
  for (const a of mirrorAxes) {
    if (!Number.isInteger(a) || a < 0 || a >= spatialDims) {
      throw argError(`mirror axes are spatial axes 0..${spatialDims - 1} of the patch, got [${mirrorAxes}]`);
    }
  }
  if (new Set(mirrorAxes).size !== mirrorAxes.length) throw argError(`mirror axes repeat: [${mirrorAxes}]`);
  const device = o.device ?? 'cpu';
  const perForward = o.windowsPerForward ?? 1;
  if (!Number.isInteger(perForward) || perForward < 1)
    throw argError(`windowsPerForward must be a positive integer, got ${perForward}`);
  return {
    patch,
    numClasses: o.numClasses,
    stepSize,
    flips: mirrorCombinations(spatialDims, mirrorAxes),
    weight: 1 / 2 ** mirrorAxes.length,
    useGaussian: o.useGaussian ?? true,
    device,
    autocastCuda: device !== 'cpu' && (o.mixedPrecision ?? true),
    autocastCpu: device === 'cpu' && o.cpuPrecision === 'bfloat16',
    perForward,
  };
}

/** Narrows `t` to the window `start .. start + size` on the axes from `firstAxis` on. */
function window(t: Tensor, firstAxis: number, start: readonly number[], size: readonly number[]): Tensor {
  let v = t;
  start.forEach((s, a) => {
    const next = v.narrow(firstAxis + a, s, size[a] as number);
    if (v !== t) v.dispose();
    v = next;
  });
  return v === t ? t.alias() : v;
}

/** The network's logits for a batch of inputs, under the autocast the options ask for. */
function runNetwork(network: NetworkFn, input: Tensor, r: Resolved): Tensor {
  if (r.autocastCuda) return autocast('cuda', () => network(input));
  if (r.autocastCpu) return autocast('cpu', () => network(input));
  return network(input);
}

function checkLogits(logits: unknown, r: Resolved, batch: number): asserts logits is Tensor {
  if (Array.isArray(logits)) {
    throw argError(
      'the network returned a list (deep supervision); pass a function that returns only the full-resolution logits',
    );
  }
  const want = [batch, r.numClasses, ...r.patch];
  const shape = (logits as Tensor).shape;
  if (shape.length !== want.length || shape.some((s, a) => s !== want[a])) {
    throw argError(`the network returned logits of shape [${shape}], expected [${want}] (numClasses and patch size)`);
  }
}

interface Progress {
  done: number;
  total: number;
  report?: (done: number, total: number) => void;
}

/**
 * v1's tiled prediction (_internal_predict_3D_3Dconv_tiled / _internal_predict_2D_2Dconv_tiled) of
 * one [C, ...spatial] tensor on r.device: returns the softmax [K, ...spatial] on r.device.
 */
function predictTiled(
  network: NetworkFn,
  data: Tensor,
  r: Resolved,
  gaussianMap: Float32Array | null,
  p: Progress,
): Tensor {
  return tidy(() => {
    const pad = padAmounts(data.shape, r.patch);
    const pairs: number[] = [];
    for (let a = data.ndim - 1; a >= 1; a--) pairs.push(pad.before[a] as number, pad.after[a] as number);
    const padded = pairs.some((v) => v > 0) ? F.pad(data, pairs, 'constant', 0) : data;
    const spatial = pad.shape.slice(1);
    const steps = computeSteps(r.patch, spatial, r.stepSize);
    const numTiles = product(steps.map((s) => s.length));
    // v1 skips the Gaussian when a single window covers the case.
    const gaussian =
      r.useGaussian && numTiles > 1 && gaussianMap !== null
        ? tensor(gaussianMap, { shape: r.patch, device: r.device })
        : null;
    const sums = zeros([r.numClasses, ...spatial], { device: r.device });
    // v1 keeps one weight sum per class; the classes' sums are equal, so one channel broadcasts.
    const weights = zeros([1, ...spatial], { device: r.device });
    const batch = padded.unsqueeze(0);
    // v1's order (_internal_maybe_mirror_and_pred_3D/2D per window): for every window, zeros, then
    // += weight * flip(softmax(net(flip(x)))) per mirror, then times the Gaussian, added to the
    // sums. Several (window, mirror) inputs may share one forward pass; the arithmetic per window
    // stays in this order.
    const jobs = [...cartesian(steps)].flatMap((start) => r.flips.map((flip, m) => ({ start, flip, m })));
    // The window being summed over its mirrors (kept across forward passes).
    const current: { sum: Tensor | null } = { sum: null };
    for (let j = 0; j < jobs.length; j += r.perForward) {
      const chunk = jobs.slice(j, j + r.perForward);
      tidy(() => {
        const inputs = chunk.map(({ start, flip }) => {
          const tile = window(batch, 2, start, r.patch).contiguous();
          return flip.length > 0 ? tile.flip(flip.map((a) => a + 2)) : tile;
        });
        const x = inputs.length === 1 ? (inputs[0] as Tensor) : cat(inputs, 0);
        const logits = runNetwork(network, x, r);
        checkLogits(logits, r, chunk.length);
        // Under autocast v1's softmax ran in float32 on the low-precision logits; so does this.
        const probs = F.softmax(logits.dtype === 'float32' ? logits : logits.float(), 1);
        chunk.forEach(({ start, flip, m }, i) => {
          const one = chunk.length === 1 ? probs : probs.narrow(0, i, 1);
          const back = flip.length > 0 ? one.flip(flip.map((a) => a + 2)) : one;
          if (m === 0) current.sum = keep(zeros([1, r.numClasses, ...r.patch], { device: r.device }));
          const acc = current.sum as Tensor;
          acc.add_(back.mul(r.weight));
          if (m < r.flips.length - 1) return;
          if (gaussian !== null) acc.mul_(gaussian);
          window(sums, 1, start, r.patch).add_(acc.squeeze(0));
          const w = window(weights, 1, start, r.patch);
          if (gaussian !== null) w.add_(gaussian);
          else w.add_(1);
          acc.dispose();
          current.sum = null;
          p.done++;
          p.report?.(p.done, p.total);
        });
      });
    }
    const keepStart = pad.slicer.slice(1).map(([s]) => s);
    const keepSize = pad.slicer.slice(1).map(([s, e]) => e - s);
    return window(sums, 1, keepStart, keepSize).div(window(weights, 1, keepStart, keepSize));
  });
}

function* cartesian(lists: readonly (readonly number[])[]): Generator<number[]> {
  const index = lists.map(() => 0);
  if (lists.some((l) => l.length === 0)) return;
  for (;;) {
    yield index.map((i, a) => (lists[a] as readonly number[])[i] as number);
    let a = lists.length - 1;
    for (; a >= 0; a--) {
      index[a] = (index[a] as number) + 1;
      if ((index[a] as number) < (lists[a] as readonly number[]).length) break;
      index[a] = 0;
    }
    if (a < 0) return;
  }
}

function tilesPerImage(spatial: readonly number[], r: Resolved): number {
  const padded = spatial.map((s, a) => Math.max(s, r.patch[a] as number));
  return product(computeSteps(r.patch, padded, r.stepSize).map((s) => s.length));
}

function toHost(t: Tensor): Float32Array {
  const out = new Float32Array(t.numel);
  const c = t.contiguous();
  const host = c.device === 'cpu' ? c : c.cpu();
  host.copyInto(out);
  if (host !== c) host.dispose();
  c.dispose();
  return out;
}

/**
 * Sliding-window prediction of a 3-D case with a 3-D network (v1's _internal_predict_3D_3Dconv_tiled
 * with all_in_gpu off, numerically): `data` is [C, Z, Y, X] float32 (preprocessed), `network` maps
 * [1, C, ...patch] to logits [1, K, ...patch]. Returns the softmax [K, Z, Y, X]. Runs in inference
 * mode, one patch at a time; the accumulators (float32, unlike v1's half-precision all_in_gpu
 * variant) live on `o.device`.
 */
export function predictSlidingWindow3D(
  network: NetworkFn,
  data: Float32Array,
  shape: readonly number[],
  o: SlidingWindowOptions,
): SlidingWindowResult {
  checkData(data, shape);
  if (shape.length !== 4) throw argError(`a 3-D case is [C, Z, Y, X], got shape [${shape}]`);
  const r = resolveOptions(o, 3);
  const gaussianMap = r.useGaussian ? gaussianImportanceMap(r.patch) : null;
  const p: Progress = {
    done: 0,
    total: tilesPerImage(shape.slice(1), r),
    ...(o.onProgress ? { report: o.onProgress } : {}),
  };
  const softmax = inferenceMode(() =>
    tidy(() => {
      const x = tensor(data, { shape, device: r.device });
      return toHost(predictTiled(network, x, r, gaussianMap, p));
    }),
  );
  return { softmax, shape: [r.numClasses, ...shape.slice(1)] };
}

/**
 * Sliding-window prediction with a 2-D network. A [C, Z, Y, X] case is predicted slice by slice
 * along Z (v1's _internal_predict_3D_2Dconv_tiled: every slice padded, tiled, mirrored and weighted
 * on its own) into [K, Z, Y, X]; a [C, Y, X] image (v1's _internal_predict_2D_2Dconv_tiled) gives
 * [K, Y, X]. `patchSize` and `mirrorAxes` refer to the two in-plane axes (Y, X -> 0, 1).
 */
export function predictSlidingWindow2D(
  network: NetworkFn,
  data: Float32Array,
  shape: readonly number[],
  o: SlidingWindowOptions,
): SlidingWindowResult {
  checkData(data, shape);
  if (shape.length !== 3 && shape.length !== 4) {
    throw argError(`a 2-D prediction takes [C, Y, X] or [C, Z, Y, X] (slice by slice), got shape [${shape}]`);
  }
  const r = resolveOptions(o, 2);
  const gaussianMap = r.useGaussian ? gaussianImportanceMap(r.patch) : null;
  const slices = shape.length === 4 ? (shape[1] as number) : 1;
  const perSlice = tilesPerImage(shape.slice(-2), r);
  const p: Progress = { done: 0, total: slices * perSlice, ...(o.onProgress ? { report: o.onProgress } : {}) };
  const outShape = [r.numClasses, ...shape.slice(1)];
  const softmax = inferenceMode(() =>
    tidy(() => {
      const x = tensor(data, { shape, device: r.device });
      if (shape.length === 3) return toHost(predictTiled(network, x, r, gaussianMap, p));
      // Slices are gathered on the host, as v1 stacks them, so the device holds one slice's buffers.
      const out = zeros(outShape);
      for (let s = 0; s < slices; s++) {
        tidy(() => {
          const probs = predictTiled(network, x.select(1, s), r, gaussianMap, p);
          out.select(1, s).copy_(probs);
        });
      }
      return toHost(out);
    }),
  );
  return { softmax, shape: outShape };
}

/**
 * The mean of several softmax maps of one case (fold ensembling, v1's np.mean over the stacked
 * float32 predictions): summed in list order in float32, then divided by the count in float32.
 */
export function averageSoftmax(maps: readonly Float32Array[]): Float32Array {
  const first = maps[0];
  if (first === undefined) throw argError('averageSoftmax needs at least one softmax map');
  for (const [i, m] of maps.entries()) {
    if (m.length !== first.length) {
      throw argError(`softmax map ${i} has ${m.length} values, map 0 has ${first.length}; they must match`);
    }
  }
  const out = Float32Array.from(first);
  for (const m of maps.slice(1)) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (m[i] as number);
  const count = maps.length;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / count;
  return out;
}
