/**
 * Demo of the binding: a tiny 3-D U-Net (two resolution levels, conv - instance norm - leaky
 * ReLU blocks, strided-conv down, transposed-conv up, skip connection) learns to segment
 * synthetic spheres on the CPU with SGD + Nesterov and Dice + cross-entropy, then reports Dice
 * on fresh volumes. Run with `make demo`.
 */

import { availableParallelism } from 'node:os';
import {
  Conv,
  clipGradNorm_,
  F,
  Generator,
  getNumThreads,
  InstanceNorm,
  Module,
  manualSeed,
  memoryStats,
  noGrad,
  SGD,
  setNumThreads,
  type Tensor,
  tensor,
  tidy,
  version,
  zeros,
} from '../src/index.js';

class ConvBlock extends Module {
  readonly conv: Conv;
  readonly norm: InstanceNorm;
  constructor(inC: number, outC: number, stride = 1) {
    super();
    this.conv = this.registerModule('conv', new Conv(3, inC, outC, 3, { padding: 1, stride }));
    this.norm = this.registerModule('norm', new InstanceNorm(outC));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => F.leakyRelu(this.norm.forward(this.conv.forward(x)), 0.01));
  }
}

class TinyUNet extends Module {
  readonly enc0 = this.registerModule('enc0', new ConvBlock(1, 8));
  readonly down = this.registerModule('down', new ConvBlock(8, 16, 2));
  readonly up = this.registerModule('up', new Conv(3, 16, 8, 2, { stride: 2, bias: false, transposed: true }));
  readonly dec0 = this.registerModule('dec0', new ConvBlock(16, 8));
  readonly head = this.registerModule('head', new Conv(3, 8, 2, 1));
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const skip = this.enc0.forward(x);
      const deep = this.up.forward(this.down.forward(skip));
      return this.head.forward(this.dec0.forward(F.cat([deep, skip], 1)));
    });
  }
}

const SIZE = 24;

/** Batch of noisy volumes with one random sphere each: image [B,1,S,S,S], labels [B,S,S,S]. */
function makeBatch(gen: Generator, batch: number): { image: Tensor; labels: Tensor } {
  const img = new Float32Array(batch * SIZE ** 3);
  const lab = new BigInt64Array(batch * SIZE ** 3);
  const u = () => {
    const r = zeros([1]).uniform_(0, 1, gen);
    const v = r.item();
    r.dispose();
    return v;
  };
  for (let b = 0; b < batch; b++) {
    const c = [4 + u() * 16, 4 + u() * 16, 4 + u() * 16];
    const rad = 3 + u() * 4;
    for (let z = 0; z < SIZE; z++)
      for (let y = 0; y < SIZE; y++)
        for (let x = 0; x < SIZE; x++) {
          const i = ((b * SIZE + z) * SIZE + y) * SIZE + x;
          const inside =
            (z - (c[0] as number)) ** 2 + (y - (c[1] as number)) ** 2 + (x - (c[2] as number)) ** 2 < rad * rad;
          lab[i] = inside ? 1n : 0n;
          img[i] = inside ? 1 : 0;
        }
  }
  return tidy(() => {
    const noise = zeros([batch, 1, SIZE, SIZE, SIZE]).normal_(0, 0.6, gen);
    const clean = tensor(img, { shape: [batch, 1, SIZE, SIZE, SIZE] });
    return { image: clean.add(noise), labels: tensor(lab, { shape: [batch, SIZE, SIZE, SIZE] }) };
  });
}

function softDiceLoss(logits: Tensor, labels: Tensor): Tensor {
  return tidy(() => {
    const probs = F.softmax(logits, 1).select(1, 1);
    const target = labels.float();
    const inter = probs.mul(target).sum();
    const denom = probs.sum().add(target.sum());
    return inter.mul(-2).add(-1e-5).div(denom.add(1e-5)).add(1);
  });
}

function dice(pred: Tensor, labels: Tensor): number {
  return tidy(() => {
    const p = pred.eq(1);
    const t = labels.eq(1);
    const inter = p.logicalAnd(t).sum().item();
    const total = p.sum().item() + t.sum().item();
    return total === 0 ? 1 : (2 * inter) / total;
  });
}

setNumThreads(Math.max(1, availableParallelism()));
console.log(`LibTorch ${version}, ${getNumThreads()} CPU threads`);
manualSeed(1234); // weight initialisation
const gen = new Generator(1234); // data
const net = new TinyUNet();
const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.99, nesterov: true, weightDecay: 3e-5 });
const steps = Number(process.env.DEMO_STEPS ?? 80);
const t0 = performance.now();
for (let step = 1; step <= steps; step++) {
  const loss = tidy(() => {
    const { image, labels } = makeBatch(gen, 2);
    const logits = net.forward(image);
    const l = F.crossEntropy(logits, labels).add(softDiceLoss(logits, labels));
    opt.zeroGrad();
    l.backward();
    clipGradNorm_(net.parameters(), 12);
    opt.lr = 0.01 * (1 - (step - 1) / steps) ** 0.9;
    opt.step();
    return l.item();
  });
  if (step % 10 === 0 || step === 1) {
    const ms = (performance.now() - t0) / step;
    console.log(
      `step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}  ${ms.toFixed(0)} ms/step  live tensors ${memoryStats().liveTensors}`,
    );
  }
}
net.eval();
const scores = noGrad(() =>
  Array.from({ length: 4 }, () =>
    tidy(() => {
      const { image, labels } = makeBatch(gen, 1);
      return dice(net.forward(image).argmax(1), labels);
    }),
  ),
);
console.log(
  `Dice on 4 fresh volumes: ${scores.map((d) => d.toFixed(3)).join(' ')} (mean ${(scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(3)})`,
);
