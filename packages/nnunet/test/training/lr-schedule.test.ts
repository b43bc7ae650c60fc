/** nnUNetTrainerV2's poly learning rate and when v1 applies it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  INITIAL_LR,
  lrForEpoch,
  MAX_NUM_EPOCHS,
  maybeUpdateLr,
  POLY_LR_EXPONENT,
  polyLr,
  roundLrForLog,
} from '../../src/training/lr-schedule.js';

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

test('nnUNetTrainerV2 constants', () => {
  assert.equal(INITIAL_LR, 0.01);
  assert.equal(MAX_NUM_EPOCHS, 1000);
  assert.equal(POLY_LR_EXPONENT, 0.9);
});

test('polyLr = initial * (1 - epoch / max)^0.9', () => {
  assert.equal(polyLr(0), 0.01);
  assert.equal(polyLr(1000), 0);
  // (1/2)^0.9 = 2^-0.9 = 0.535886731...; 0.999^0.9 = 0.99909995...; 0.001^0.9 = 10^-2.7 = 0.00199526...
  near(polyLr(500), 0.01 * 0.5358867312681466, 'epoch 500');
  near(polyLr(1), 0.01 * 0.9990999549834914, 'epoch 1');
  near(polyLr(999), 0.01 * 0.0019952623149688794, 'epoch 999');
  near(polyLr(10, 100, 0.1, 2), 0.1 * 0.81, 'other max, initial and exponent');
  assert.throws(() => polyLr(1001), { code: 'ERR_ARGUMENT' });
  assert.throws(() => polyLr(-1), { code: 'ERR_ARGUMENT' });
  assert.throws(() => polyLr(0, 0), { code: 'ERR_ARGUMENT' });
});

test('maybeUpdateLr: epoch e trains with polyLr(e), also after resuming', () => {
  const optimizer = { lr: 123 };
  // run_training: maybe_update_lr(self.epoch) before the first epoch.
  assert.equal(maybeUpdateLr(optimizer, 0, { epoch: 0 }), 0.01);
  assert.equal(optimizer.lr, 0.01);
  const used: number[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    used.push(optimizer.lr);
    // on_epoch_end, before the epoch counter is incremented: maybe_update_lr() uses epoch + 1.
    maybeUpdateLr(optimizer, epoch);
  }
  assert.deepEqual(used, [lrForEpoch(0), lrForEpoch(1), lrForEpoch(2)]);
  assert.equal(optimizer.lr, lrForEpoch(3));
  // A checkpoint stores the next epoch to run; resuming sets its rate.
  maybeUpdateLr(optimizer, 37, { epoch: 37 });
  assert.equal(optimizer.lr, polyLr(37));
  // After the last epoch the rate becomes 0.
  assert.equal(maybeUpdateLr(optimizer, 999), 0);
  assert.equal(maybeUpdateLr({ lr: 0 }, 4, { maxEpochs: 10, initialLr: 1 }), 0.5 ** 0.9);
});

test('the logged rate is rounded to 6 decimals', () => {
  assert.equal(roundLrForLog(polyLr(1)), 0.009991);
  assert.equal(roundLrForLog(polyLr(999)), 0.00002);
  assert.equal(roundLrForLog(0.01), 0.01);
});
