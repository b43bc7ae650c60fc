/**
 * The U-Net topology derived from voxel spacing and patch size (v1's `get_pool_and_conv_props`
 * in experiment_planning/common_utils.py, used by the v2.1 planners): how often each axis is
 * pooled, the pooling and convolution kernels of every resolution level, and the patch size
 * padded so that every pooling divides it. All per-axis values are in the caller's axis order
 * ((z, y, x) after the planner's transpose for 3-D, (y, x) for 2-D); spacings in mm.
 */

export interface Topology {
  /** Poolings per axis. */
  numPoolPerAxis: number[];
  /** One kernel per pooling step (2 where the axis is pooled, 1 where not). */
  poolKernels: number[][];
  /** One kernel per resolution level, the bottleneck last (3 along axes of similar spacing, 1 elsewhere). */
  convKernels: number[][];
  /** The patch size rounded up to a multiple of `mustBeDivisibleBy`. */
  patchSize: number[];
  /** 2 ** numPoolPerAxis. */
  mustBeDivisibleBy: number[];
}

/**
 * Axes whose spacings lie within a factor of 2 of each other are treated alike: each pooling step
 * pools every axis that is within 2x of the currently finest spacing and still at least
 * 2 * `minFeatureMapEdge` voxels long (and pooled fewer than `maxNumPool` times), doubling its
 * spacing and halving (ceil) its size. A level convolves with 3 along the largest group of
 * mutually similar spacings and with 1 along the others, so very coarse axes start with 1-wide
 * kernels until pooling has caught the fine axes up.
 */
export function poolAndConvProps(
  spacing: readonly number[],
  patchSize: readonly number[],
  minFeatureMapEdge: number,
  maxNumPool: number,
): Topology {
  const dim = spacing.length;
  const axes = [...Array(dim).keys()];
  const currentSpacing = [...spacing];
  const currentSize = [...patchSize];
  const numPoolPerAxis: number[] = Array(dim).fill(0);
  const poolKernels: number[][] = [];
  const convKernels: number[][] = [];
  const at = (a: readonly number[], i: number) => a[i] as number;
  for (;;) {
    const minSpacing = Math.min(...currentSpacing);
    // The largest group of axes within 2x of each other (the first such group on ties).
    let similar: number[] = [];
    for (const a of axes) {
      const mine = at(currentSpacing, a);
      const partners = axes.filter((i) => at(currentSpacing, i) / mine < 2 && mine / at(currentSpacing, i) < 2);
      if (partners.length > similar.length) similar = partners;
    }
    const convKernel = axes.map((i) => (similar.includes(i) ? 3 : 1));
    const poolable = axes.filter(
      (i) =>
        at(currentSpacing, i) / minSpacing < 2 &&
        at(currentSize, i) >= 2 * minFeatureMapEdge &&
        at(numPoolPerAxis, i) < maxNumPool,
    );
    if (poolable.length === 0) break;
    const poolKernel: number[] = Array(dim).fill(1);
    for (const i of poolable) {
      poolKernel[i] = 2;
      numPoolPerAxis[i] = at(numPoolPerAxis, i) + 1;
      currentSpacing[i] = at(currentSpacing, i) * 2;
      currentSize[i] = Math.ceil(at(currentSize, i) / 2);
    }
    poolKernels.push(poolKernel);
    convKernels.push(convKernel);
  }
  // The bottleneck always convolves 3 wide along every axis.
  convKernels.push(Array(dim).fill(3));
  const mustBeDivisibleBy = shapeMustBeDivisibleBy(numPoolPerAxis);
  return {
    numPoolPerAxis,
    poolKernels,
    convKernels,
    patchSize: padShape(patchSize, mustBeDivisibleBy),
    mustBeDivisibleBy,
  };
}

/** 2 ** poolings per axis: the factor each patch edge must be a multiple of (v1's get_shape_must_be_divisible_by). */
export function shapeMustBeDivisibleBy(numPoolPerAxis: readonly number[]): number[] {
  return numPoolPerAxis.map((n) => 2 ** n);
}

/** Rounds every edge up to the next multiple of its divisor, keeping edges that already are one (v1's pad_shape). */
export function padShape(shape: readonly number[], divisors: readonly number[]): number[] {
  if (shape.length !== divisors.length)
    throw new RangeError(`padShape: ${shape.length} edges but ${divisors.length} divisors`);
  return shape.map((s, i) => {
    const d = divisors[i] as number;
    const r = s % d;
    return r === 0 ? s : s + d - r;
  });
}
