/**
 * nnU-Net v1's Generic_UNet as nnUNetTrainerV2 configures it: a U-Net of conv / instance-norm /
 * leaky-ReLU blocks, strided convolutions instead of pooling, transposed convolutions for
 * upsampling, skip concatenation and a 1x1(x1) segmentation head on every decoder level (deep
 * supervision). Works for 2-D ([N, C, Y, X]) and 3-D ([N, C, Z, Y, X]) inputs; kernels and
 * strides are per spatial axis in the same order.
 *
 * State dict: the module tree registers its members under v1's names and in v1's order, so
 * `stateDict()` has exactly the keys, key order and shapes of the `state_dict()` of v1's network
 * for the same plans (golden lists in test/fixtures/golden/<task>/network_*.json). A v1
 * checkpoint therefore maps onto this module key for key, and equally position for position:
 *
 *   conv_blocks_localization.U.0.blocks.K.{conv,instnorm}.{weight,bias}   decoder level U, convs 1..convPerStage-1
 *   conv_blocks_localization.U.1.blocks.0.{conv,instnorm}.{weight,bias}   decoder level U, last conv
 *   conv_blocks_context.D.blocks.K.{conv,instnorm}.{weight,bias}          encoder stage D < numPool
 *   conv_blocks_context.N.{0,1}.blocks.K.{conv,instnorm}.{weight,bias}    bottleneck (N = numPool)
 *   tu.U.weight                                                           transposed conv into level U
 *   seg_outputs.U.weight                                                  head of decoder level U
 *
 * Decoder level U = 0 is the lowest resolution (just above the bottleneck); U = numPool - 1 is the
 * full resolution. v1 registers the decoder before the encoder, hence that order.
 */
import { Conv, cat, F, type Generator, InstanceNorm, Module, Sequential, type Tensor, tidy } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { initWeightsHe } from './init.js';

/** Generic_UNet.MAX_NUM_FILTERS_3D: the feature cap of 3-D networks. */
export const MAX_NUM_FEATURES_3D = 320;
/**
 * Generic_UNet.MAX_FILTERS_2D: the feature cap of 2-D networks. (v1's 2-D planner estimates memory
 * with 512 instead; the network it trains is capped at 480.)
 */
export const MAX_NUM_FEATURES_2D = 480;
/** Generic_UNet's feat_map_mul_on_downscale as nnUNetTrainerV2 passes it. */
export const FEATURE_MULTIPLIER_PER_STAGE = 2;
/** Negative slope of the leaky ReLU after every instance norm (nnUNetTrainerV2's net_nonlin_kwargs). */
export const LEAKY_RELU_SLOPE = 1e-2;
/** eps of every instance norm (nnUNetTrainerV2's norm_op_kwargs). */
export const INSTANCE_NORM_EPS = 1e-5;

/** Everything that shapes the network; `unetConfigFromPlans` derives it from a plans stage. */
export interface GenericUNetConfig {
  /** 2 or 3 spatial axes (v1: from the length of the stage's patch size). */
  spatialDims: 2 | 3;
  /** Input channels (plans.num_modalities). */
  inputChannels: number;
  /** Output channels, background included (plans.num_classes + 1). */
  numClasses: number;
  /** Features of the first stage; stage s has min(base * 2^s, maxNumFeatures). */
  baseNumFeatures: number;
  /** Feature cap per stage (320 in 3-D, 480 in 2-D in v1). */
  maxNumFeatures: number;
  /** Conv-norm-nonlin blocks per encoder stage and per decoder level (v1: 2). */
  convPerStage: number;
  /** One kernel per downsampling step, one value per spatial axis; the strides of the encoder. */
  poolOpKernelSizes: readonly (readonly number[])[];
  /** One kernel per resolution stage (poolOpKernelSizes.length + 1), one value per spatial axis. */
  convKernelSizes: readonly (readonly number[])[];
  /** Return the outputs of every decoder level from `forward` (v1: true while training). */
  deepSupervision: boolean;
}

type Kernel = readonly number[];

function argumentError(message: string): NnunetError {
  return new NnunetError('ERR_ARGUMENT', message);
}

/**
 * v1's padding rule: 1 where the kernel is 3, else 0. Its planners only produce kernels of 1 and
 * 3, for which this is "same" padding.
 */
function convPadding(kernel: Kernel): number[] {
  return kernel.map((k) => (k === 3 ? 1 : 0));
}

/** Conv -> instance norm (affine) -> leaky ReLU: v1's ConvDropoutNormNonlin with dropout p = 0. */
export class ConvNormNonlin extends Module {
  readonly conv: Conv;
  readonly instnorm: InstanceNorm;
  constructor(
    spatialDims: 2 | 3,
    inChannels: number,
    readonly outChannels: number,
    kernel: Kernel,
    stride: Kernel | 1,
    generator?: Generator,
  ) {
    super();
    this.conv = this.registerModule(
      'conv',
      new Conv(spatialDims, inChannels, outChannels, kernel, {
        stride,
        padding: convPadding(kernel),
        bias: true,
        ...(generator ? { generator } : {}),
      }),
    );
    this.instnorm = this.registerModule('instnorm', new InstanceNorm(outChannels, INSTANCE_NORM_EPS, true));
  }
  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    // v1's LeakyReLU(inplace=True) after the norm, in one op that spares autograd the copies an
    // in-place op on the norm's output view would cost (same values).
    const z = F.instanceNormLeakyRelu(y, {
      weight: this.instnorm.weight,
      bias: this.instnorm.bias,
      eps: this.instnorm.eps,
      negativeSlope: LEAKY_RELU_SLOPE,
    });
    y.dispose();
    return z;
  }
}

/** `count` ConvNormNonlin blocks; only the first changes the channel count and may be strided (v1's StackedConvLayers). */
export class StackedConvLayers extends Module {
  readonly blocks: Sequential;
  constructor(
    spatialDims: 2 | 3,
    inChannels: number,
    readonly outChannels: number,
    count: number,
    kernel: Kernel,
    firstStride: Kernel | 1,
    generator?: Generator,
  ) {
    super();
    const layers: ConvNormNonlin[] = [];
    for (let i = 0; i < count; i++) {
      layers.push(
        new ConvNormNonlin(
          spatialDims,
          i === 0 ? inChannels : outChannels,
          outChannels,
          kernel,
          i === 0 ? firstStride : 1,
          generator,
        ),
      );
    }
    this.blocks = this.registerModule('blocks', new Sequential(...layers));
  }
  forward(x: Tensor): Tensor {
    return this.blocks.forward(x);
  }
}

/** An indexed list of sub-modules registered as "0", "1", ... (torch.nn.ModuleList). */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];
  constructor(items: readonly M[]) {
    super();
    this.items = items;
    items.forEach((m, i) => {
      this.registerModule(String(i), m);
    });
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items[i];
    if (m === undefined) throw argumentError(`ModuleList index ${i} is out of range (length ${this.items.length})`);
    return m;
  }
}

function checkKernelList(name: string, list: readonly Kernel[], count: number, dims: number): void {
  if (list.length !== count) {
    throw argumentError(`GenericUNet: ${name} needs ${count} kernels, got ${list.length}`);
  }
  list.forEach((k, i) => {
    if (k.length !== dims || !k.every((v) => Number.isInteger(v) && v >= 1)) {
      throw argumentError(
        `GenericUNet: ${name}[${i}] must be ${dims} positive integers (one per spatial axis), got [${k.join(', ')}]`,
      );
    }
  });
}

function checkConfig(c: GenericUNetConfig): void {
  if (c.spatialDims !== 2 && c.spatialDims !== 3) {
    throw argumentError(`GenericUNet: spatialDims must be 2 or 3, got ${String(c.spatialDims)}`);
  }
  const positive: [string, number][] = [
    ['inputChannels', c.inputChannels],
    ['numClasses', c.numClasses],
    ['baseNumFeatures', c.baseNumFeatures],
    ['maxNumFeatures', c.maxNumFeatures],
    ['convPerStage', c.convPerStage],
  ];
  for (const [name, v] of positive) {
    if (!Number.isInteger(v) || v < 1) throw argumentError(`GenericUNet: ${name} must be a positive integer, got ${v}`);
  }
  // The bottleneck and every decoder level split their convs into (convPerStage - 1) + 1.
  if (c.convPerStage < 2) throw argumentError(`GenericUNet: convPerStage must be at least 2, got ${c.convPerStage}`);
  const numPool = c.poolOpKernelSizes.length;
  if (numPool < 1) throw argumentError('GenericUNet: poolOpKernelSizes needs at least one downsampling step');
  checkKernelList('poolOpKernelSizes', c.poolOpKernelSizes, numPool, c.spatialDims);
  checkKernelList('convKernelSizes', c.convKernelSizes, numPool + 1, c.spatialDims);
}

/**
 * The U-Net. Construction initialises every conv and transposed-conv weight with v1's
 * InitWeights_He(1e-2) (biases 0, instance norms weight 1 / bias 0), drawing from `generator`
 * when one is given (in state-dict order), else from LibTorch's global generator.
 */
export class GenericUNet extends Module {
  readonly config: Readonly<GenericUNetConfig>;
  /** Number of downsampling steps = number of decoder levels = number of deep-supervision outputs. */
  readonly numPool: number;
  /** Features of each encoder stage, the bottleneck last (length numPool + 1). */
  readonly stageFeatures: readonly number[];
  /** Per spatial axis: the product of all pool kernels; input sizes must be multiples of it. */
  readonly inputShapeMustBeDivisibleBy: readonly number[];
  /** When true `forward` returns every decoder level's logits (v1's do_ds); switch off for inference. */
  deepSupervision: boolean;

  readonly convBlocksLocalization: ModuleList<Sequential>;
  /** Encoder stages 0..numPool-1 (StackedConvLayers) and the bottleneck (a Sequential of two) last. */
  readonly convBlocksContext: ModuleList<StackedConvLayers | Sequential>;
  readonly tu: ModuleList<Conv>;
  readonly segOutputs: ModuleList<Conv>;

  constructor(config: GenericUNetConfig, options: { generator?: Generator } = {}) {
    super();
    checkConfig(config);
    this.config = {
      ...config,
      poolOpKernelSizes: config.poolOpKernelSizes.map((k) => [...k]),
      convKernelSizes: config.convKernelSizes.map((k) => [...k]),
    };
    this.deepSupervision = config.deepSupervision;
    const dims = config.spatialDims;
    const pool = this.config.poolOpKernelSizes;
    const kernels = this.config.convKernelSizes;
    const n = pool.length;
    const perStage = config.convPerStage;
    const gen = options.generator;
    this.numPool = n;
    this.inputShapeMustBeDivisibleBy = Array.from({ length: dims }, (_, a) =>
      pool.reduce((p, k) => p * (k[a] as number), 1),
    );

    // Encoder: stage d is strided by the pool kernel of the step before it (convolutional pooling).
    const features: number[] = [];
    const context: (StackedConvLayers | Sequential)[] = [];
    let inFeatures = config.inputChannels;
    let outFeatures = config.baseNumFeatures;
    for (let d = 0; d < n; d++) {
      const stride = d === 0 ? 1 : (pool[d - 1] as Kernel);
      context.push(new StackedConvLayers(dims, inFeatures, outFeatures, perStage, kernels[d] as Kernel, stride, gen));
      features.push(outFeatures);
      inFeatures = outFeatures;
      outFeatures = Math.min(outFeatures * FEATURE_MULTIPLIER_PER_STAGE, config.maxNumFeatures);
    }
    // Bottleneck: v1 splits it into a stack of convPerStage - 1 convs (the first strided) and a stack of one.
    const bottleneckKernel = kernels[n] as Kernel;
    context.push(
      new Sequential(
        new StackedConvLayers(
          dims,
          inFeatures,
          outFeatures,
          perStage - 1,
          bottleneckKernel,
          pool[n - 1] as Kernel,
          gen,
        ),
        new StackedConvLayers(dims, outFeatures, outFeatures, 1, bottleneckKernel, 1, gen),
      ),
    );
    features.push(outFeatures);
    this.stageFeatures = features;

    // Decoder level u upsamples to encoder stage n-1-u. v1 gives its convs the kernel of stage
    // n-u (one stage lower in resolution than the skip they merge with); kept for parity.
    const localization: Sequential[] = [];
    const tu: Conv[] = [];
    const heads: Conv[] = [];
    let fromBelow = outFeatures;
    for (let u = 0; u < n; u++) {
      const skip = features[n - 1 - u] as number;
      const up = pool[n - 1 - u] as Kernel;
      tu.push(new Conv(dims, fromBelow, skip, up, { stride: up, bias: false, transposed: true, ...genOpt(gen) }));
      const kernel = kernels[n - u] as Kernel;
      localization.push(
        new Sequential(
          new StackedConvLayers(dims, 2 * skip, skip, perStage - 1, kernel, 1, gen),
          new StackedConvLayers(dims, skip, skip, 1, kernel, 1, gen),
        ),
      );
      heads.push(
        new Conv(dims, skip, config.numClasses, new Array<number>(dims).fill(1), { bias: false, ...genOpt(gen) }),
      );
      fromBelow = skip;
    }

    // Registration order = v1's state-dict order.
    this.convBlocksLocalization = this.registerModule('conv_blocks_localization', new ModuleList(localization));
    this.convBlocksContext = this.registerModule('conv_blocks_context', new ModuleList(context));
    this.tu = this.registerModule('tu', new ModuleList(tu));
    this.segOutputs = this.registerModule('seg_outputs', new ModuleList(heads));

    initWeightsHe(this, gen ? { generator: gen } : {});
  }

  /** Number of output channels (classes, background included). */
  get numClasses(): number {
    return this.config.numClasses;
  }

  /**
   * The network's parameters in v1's state-dict order as [key, tensor] pairs (the tensors
   * themselves). Equal to `[...stateDict()]`; spelled out for checkpoint mapping code.
   */
  getStateDictInV1Order(): [string, Tensor][] {
    return [...this.stateDict()];
  }

  /**
   * v1's forward: with `deepSupervision` on, the logits of every decoder level, full resolution
   * first then halving (as the pool kernels say) down to the level above the bottleneck; else the
   * full-resolution logits only. x: [N, inputChannels, ...spatial], every spatial size a multiple
   * of `inputShapeMustBeDivisibleBy`. Logits are raw (nnUNetTrainerV2's final_nonlin is the
   * identity; softmax is applied by the loss and by inference).
   */
  forward(x: Tensor): Tensor | Tensor[] {
    return this.deepSupervision ? this.forwardDeepSupervision(x) : this.forwardLogits(x);
  }

  /** Every decoder level's logits, full resolution first: [N, numClasses, ...spatial / scale]. */
  forwardDeepSupervision(x: Tensor): Tensor[] {
    return this.#run(x, true);
  }

  /** The full-resolution logits [N, numClasses, ...spatial]; the lower heads are not computed. */
  forwardLogits(x: Tensor): Tensor {
    return this.#run(x, false)[0] as Tensor;
  }

  #checkInput(x: Tensor): void {
    const dims = this.config.spatialDims;
    const shape = x.shape;
    const bad =
      shape.length !== dims + 2 ||
      shape[1] !== this.config.inputChannels ||
      shape.slice(2).some((s, a) => s % (this.inputShapeMustBeDivisibleBy[a] as number) !== 0);
    if (bad) {
      throw argumentError(
        `GenericUNet: input must be [N, ${this.config.inputChannels}, ...${dims} spatial sizes, multiples of ` +
          `[${this.inputShapeMustBeDivisibleBy.join(', ')}]], got [${shape.join(', ')}]`,
      );
    }
  }

  #run(x: Tensor, allLevels: boolean): Tensor[] {
    this.#checkInput(x);
    const n = this.numPool;
    return tidy(() => {
      const skips: Tensor[] = [];
      let cur = x;
      for (let d = 0; d < n; d++) {
        cur = this.convBlocksContext.at(d).forward(cur);
        skips.push(cur);
      }
      let y = this.convBlocksContext.at(n).forward(cur);
      const outputs: Tensor[] = [];
      for (let u = 0; u < n; u++) {
        const up = this.tu.at(u).forward(y);
        y.dispose();
        const skip = skips[n - 1 - u] as Tensor;
        const merged = cat([up, skip], 1);
        up.dispose();
        skip.dispose();
        y = this.convBlocksLocalization.at(u).forward(merged);
        merged.dispose();
        if (allLevels || u === n - 1) outputs.push(this.segOutputs.at(u).forward(y));
      }
      y.dispose();
      return outputs.reverse();
    });
  }
}

function genOpt(gen: Generator | undefined): { generator?: Generator } {
  return gen ? { generator: gen } : {};
}
