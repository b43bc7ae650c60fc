/** Common layers built on Module and the functional ops; PyTorch's default initialisation. */
import { empty, ones, zeros } from '../creation.js';
import { argError } from '../errors.js';
import * as F from '../functional.js';
import type { Generator, Tensor } from '../tensor.js';
import { fans, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';

type PerAxis = number | readonly number[];

export interface ConvLayerOptions {
  stride?: PerAxis;
  padding?: PerAxis;
  dilation?: PerAxis;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

function kernelShape(k: PerAxis, n: number): number[] {
  if (typeof k === 'number') return new Array<number>(n).fill(k);
  if (k.length !== n) throw argError(`kernelSize needs ${n} values, got [${k.join(', ')}]`);
  return [...k];
}

/** Convolution layer (2-D or 3-D, optionally transposed) with PyTorch's default initialisation. */
export class Conv extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly options: F.ConvTransposeOptions;
  constructor(
    readonly spatialDims: 1 | 2 | 3,
    inChannels: number,
    outChannels: number,
    kernelSize: PerAxis,
    o: ConvLayerOptions & { transposed?: boolean; outputPadding?: PerAxis } = {},
    readonly transposed = o.transposed ?? false,
  ) {
    super();
    const groups = o.groups ?? 1;
    const k = kernelShape(kernelSize, spatialDims);
    // Transposed convolutions store weights as [in, out / groups, ...kernel].
    const wShape = transposed ? [inChannels, outChannels / groups, ...k] : [outChannels, inChannels / groups, ...k];
    this.weight = this.registerParameter('weight', empty(wShape));
    kaimingUniform_(this.weight, { a: Math.sqrt(5), ...(o.generator ? { generator: o.generator } : {}) });
    this.bias = null;
    if (o.bias ?? true) {
      this.bias = this.registerParameter('bias', empty([outChannels]));
      const bound = 1 / Math.sqrt(fans(this.weight).fanIn);
      uniform_(this.bias, -bound, bound, o.generator);
    }
    this.options = {
      stride: o.stride ?? 1,
      padding: o.padding ?? 0,
      dilation: o.dilation ?? 1,
      groups,
      outputPadding: o.outputPadding ?? 0,
    };
  }
  forward(x: Tensor): Tensor {
    const n = this.spatialDims;
    if (this.transposed) {
      return n === 3
        ? F.convTranspose3d(x, this.weight, this.bias, this.options)
        : F.convTranspose2d(x, this.weight, this.bias, this.options);
    }
    if (n === 3) return F.conv3d(x, this.weight, this.bias, this.options);
    if (n === 2) return F.conv2d(x, this.weight, this.bias, this.options);
    return F.conv1d(x, this.weight, this.bias, this.options);
  }
}

/** Instance normalisation with an affine transform (weight 1, bias 0), as nn.InstanceNorm{2,3}d(affine=True). */
export class InstanceNorm extends Module {
  weight: Tensor | null = null;
  bias: Tensor | null = null;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    if (affine) {
      this.weight = this.registerParameter('weight', ones([numFeatures]));
      this.bias = this.registerParameter('bias', zeros([numFeatures]));
    }
  }
  forward(x: Tensor): Tensor {
    return F.instanceNorm(x, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}

/** Batch normalisation with running statistics. */
export class BatchNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([numFeatures]));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
  }
  forward(x: Tensor): Tensor {
    return F.batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null = null;
  constructor(inFeatures: number, outFeatures: number, o: { bias?: boolean; generator?: Generator } = {}) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    kaimingUniform_(this.weight, { a: Math.sqrt(5), ...(o.generator ? { generator: o.generator } : {}) });
    if (o.bias ?? true) {
      this.bias = this.registerParameter('bias', empty([outFeatures]));
      const bound = 1 / Math.sqrt(inFeatures);
      uniform_(this.bias, -bound, bound, o.generator);
    }
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** A module whose forward maps one tensor to one tensor. */
export interface Layer {
  forward(x: Tensor): Tensor;
}

/** Applies children in order, disposing intermediates (but never the input). */
export class Sequential extends Module {
  readonly layers: (Module & Layer)[];
  constructor(...layers: (Module & Layer)[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => {
      this.registerModule(String(i), l);
    });
  }
  forward(x: Tensor): Tensor {
    let cur = x;
    for (const l of this.layers) {
      const next = l.forward(cur);
      if (cur !== x) cur.dispose();
      cur = next;
    }
    return cur === x ? x.alias() : cur;
  }
}

/** Parameter-free activation as a layer. */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}
