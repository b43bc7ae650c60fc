/**
 * Data-parallel training rules: the per-rank batch and oversampling shares (nnU-Net v2's rule,
 * checked against hand-computed splits and the global foreground count), and the equivalence that
 * makes data parallelism correct: K steps of the real network and loss on 2 processes with batch b
 * each (Gloo over a TCPStore on localhost, gradients averaged, batch Dice over the global batch)
 * equal K steps of one process with batch 2b, and the ranks hold identical weights after every step.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { clipGradNorm_, Generator, ProcessGroup, rand, SGD, setNumThreads, type Tensor, tidy } from '@nnunet/torch';
import { deepSupervisionLossWeights, deepSupervisionScales } from '../../src/network/deep-supervision.js';
import { GenericUNet } from '../../src/network/generic-unet.js';
import { initWeightsHe } from '../../src/network/init.js';
import { OVERSAMPLE_FOREGROUND_PERCENT } from '../../src/training/data-loader.js';
import { globalCountsOver, rankShares } from '../../src/training/data-parallel.js';
import { deepSupervisionLoss, downsampleSegForDeepSupervision } from '../../src/training/loss.js';
import { GRAD_CLIP_NORM, INITIAL_LR, MOMENTUM, WEIGHT_DECAY } from '../../src/training/trainer-spec.js';

const SELF = fileURLToPath(import.meta.url);
const STEPS = 3;
const GLOBAL_BATCH = 4;
const POOLS = [
  [2, 2, 2],
  [2, 2, 2],
];

/** The global batch of step k: data U[0, 1) and 3-class labels, from (seed, k) alone. */
function globalBatch(k: number): { data: Tensor; seg: Tensor } {
  const gen = new Generator(1000 + k);
  return tidy(() => ({
    data: rand([GLOBAL_BATCH, 1, 8, 12, 8], { generator: gen }),
    seg: rand([GLOBAL_BATCH, 1, 8, 12, 8], { generator: gen }).mul(2.999).floor(),
  }));
}

/** K training steps on samples [first, first + count) of every global batch; returns the weights. */
function train(first: number, count: number, batchDice: boolean, group: ProcessGroup | null): Float32Array[] {
  // Snapshot 0 is the first step's gradient (averaged over the ranks), then the weights after each step.
  setNumThreads(1);
  const net = new GenericUNet({
    spatialDims: 3,
    inputChannels: 1,
    numClasses: 3,
    baseNumFeatures: 4,
    maxNumFeatures: 16,
    convPerStage: 2,
    poolOpKernelSizes: POOLS,
    convKernelSizes: [
      [3, 3, 3],
      [3, 3, 3],
      [3, 3, 3],
    ],
    deepSupervision: true,
  });
  initWeightsHe(net, { generator: new Generator(7) });
  net.train();
  const params = net.parameters();
  const optimizer = new SGD(params, { lr: INITIAL_LR, momentum: MOMENTUM, nesterov: true, weightDecay: WEIGHT_DECAY });
  const scales = deepSupervisionScales(POOLS);
  const weights = deepSupervisionLossWeights(scales.length);
  const lossOptions = group === null ? { batchDice } : { batchDice, globalCounts: globalCountsOver(group) };
  const snapshots: Float32Array[] = [];
  for (let k = 0; k < STEPS; k++) {
    tidy(() => {
      const { data, seg } = globalBatch(k);
      const x = data.narrow(0, first, count).contiguous();
      const targets = downsampleSegForDeepSupervision(seg.narrow(0, first, count).contiguous(), scales);
      const outputs = net.forward(x) as Tensor[];
      const loss = deepSupervisionLoss(outputs, targets, weights, lossOptions);
      optimizer.zeroGrad();
      loss.backward();
      if (group !== null) group.averageGradients(params);
      if (k === 0)
        snapshots.push(
          Float32Array.from(
            params.flatMap((p) =>
              p.grad ? Array.from(p.grad.toTypedArray() as Float32Array) : new Array<number>(p.numel).fill(0),
            ),
          ),
        );
      clipGradNorm_(params, GRAD_CLIP_NORM);
      optimizer.step();
    });
    snapshots.push(Float32Array.from(params.flatMap((p) => Array.from(p.toTypedArray() as Float32Array))));
  }
  return snapshots;
}

// ---------------------------------------------------------------- worker side
if (process.env.DP_WORKER === '1') {
  const rank = Number(process.env.DP_RANK);
  const group = new ProcessGroup({
    rank,
    worldSize: 2,
    store: { tcp: { host: '127.0.0.1', port: Number(process.env.DP_PORT) } },
    timeoutMs: 60_000,
  });
  const half = GLOBAL_BATCH / 2;
  const snapshots = train(rank * half, half, process.env.DP_BATCH_DICE === '1', group);
  group.destroy();
  process.stdout.write(JSON.stringify(snapshots.map((s) => Array.from(s))));
} else {
  test("rankShares: nnU-Net v2's split of the batch and of the foreground oversampling", () => {
    const seven = rankShares(7, 2, 0.33);
    assert.deepEqual(
      seven.map((s) => s.batchSize),
      [4, 3],
    );
    // Positions 0-3 lie before the last 33 % (from 4.69 on): none oversampled; rank 1 covers 4-6.
    assert.equal(seven[0]?.oversampleForegroundPercent, 0);
    assert.ok(Math.abs((seven[1]?.oversampleForegroundPercent as number) - 0.77) < 1e-12);
    assert.deepEqual(
      rankShares(12, 3, 0.33).map((s) => s.batchSize),
      [4, 4, 4],
    );
    const one = rankShares(5, 1, 0.33)[0];
    assert.equal(one?.batchSize, 5);
    assert.ok(
      Math.abs((one?.oversampleForegroundPercent as number) - 0.33) < 1e-12,
      'one process keeps the plans share',
    );
    // 9 over 4 processes would leave rank 3 without a sample (3, 3, 3, 0): refused with the counts that work.
    assert.throws(() => rankShares(9, 4, 0.33), /rank 3 would get 0 samples\): use 1, 2, 3, 5, 9 processes/);
    // The loader forces foreground on the last B - round(B (1 - share)) items of a batch: summed over
    // the ranks this is the single-process count for every batch and process count that fits.
    const fg = (b: number, share: number) => b - Math.round(b * (1 - share));
    for (let b = 2; b <= 14; b++)
      for (const n of [2, 3, 4]) {
        let shares: ReturnType<typeof rankShares>;
        try {
          shares = rankShares(b, n, OVERSAMPLE_FOREGROUND_PERCENT);
        } catch {
          continue;
        }
        assert.equal(
          shares.reduce((a, s) => a + s.batchSize, 0),
          b,
        );
        const total = shares.reduce((a, s) => a + fg(s.batchSize, s.oversampleForegroundPercent), 0);
        assert.ok(
          Math.abs(total - fg(b, OVERSAMPLE_FOREGROUND_PERCENT)) <= 1,
          `batch ${b} over ${n}: ${total} foreground items vs ${fg(b, OVERSAMPLE_FOREGROUND_PERCENT)}`,
        );
      }
  });

  async function twoRanks(batchDice: boolean): Promise<Float32Array[][]> {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    return Promise.all(
      [0, 1].map(
        (rank) =>
          new Promise<Float32Array[]>((resolve, reject) => {
            const child = spawn(process.execPath, [SELF], {
              env: {
                ...process.env,
                DP_WORKER: '1',
                DP_RANK: String(rank),
                DP_PORT: String(port),
                DP_BATCH_DICE: batchDice ? '1' : '0',
              },
            });
            let out = '';
            let err = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (err += d));
            child.on('close', (code) => {
              if (code !== 0) reject(new Error(`rank ${rank} exited with ${code}: ${err}`));
              else resolve((JSON.parse(out) as number[][]).map((a) => Float32Array.from(a)));
            });
          }),
      ),
    );
  }

  for (const batchDice of [false, true]) {
    test(`${STEPS} steps on 2 processes x batch ${GLOBAL_BATCH / 2} equal ${STEPS} steps of one process x batch ${GLOBAL_BATCH} (${batchDice ? 'batch' : 'per-sample'} Dice)`, async (t) => {
      const ranks = await twoRanks(batchDice);
      const single = train(0, GLOBAL_BATCH, batchDice, null);
      // The first step's gradient: the averaged one equals the global batch's (relative to its size).
      const g = single[0] as Float32Array;
      const gScale = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      let gDiff = 0;
      for (let i = 0; i < g.length; i++)
        gDiff = Math.max(gDiff, Math.abs((ranks[0]?.[0]?.[i] as number) - (g[i] as number)));
      t.diagnostic(
        `first gradient: max |2 x ${GLOBAL_BATCH / 2} - 1 x ${GLOBAL_BATCH}| = ${gDiff.toExponential(2)} (largest component ${gScale.toExponential(2)})`,
      );
      assert.ok(gDiff < 1e-5 * gScale, `averaged gradient differs by ${gDiff} of ${gScale}`);
      for (let k = 1; k <= STEPS; k++) {
        const r0 = ranks[0]?.[k] as Float32Array;
        const r1 = ranks[1]?.[k] as Float32Array;
        assert.deepEqual(r0, r1, `step ${k - 1}: the ranks hold identical weights`);
        const ref = single[k] as Float32Array;
        let maxAbs = 0;
        for (let i = 0; i < ref.length; i++)
          maxAbs = Math.max(maxAbs, Math.abs((r0[i] as number) - (ref[i] as number)));
        t.diagnostic(
          `step ${k - 1}: weights max |2 x ${GLOBAL_BATCH / 2} - 1 x ${GLOBAL_BATCH}| = ${maxAbs.toExponential(2)}`,
        );
        assert.ok(maxAbs < 2e-5, `step ${k - 1}: weights differ by ${maxAbs}`);
      }
    });
  }
}
