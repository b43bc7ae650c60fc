import assert from 'node:assert/strict';
import { test } from 'node:test';
import { torch, VERSION } from '../src/index.js';

test('the nnunet package reaches the LibTorch engine through the workspace link', () => {
  assert.equal(VERSION, '0.1.0');
  const t = torch.tensor([1, 2, 3, 4], { shape: [2, 2] });
  const s = t.sum(1);
  assert.deepEqual(s.toArray(), [3, 7]);
  t.dispose();
  s.dispose();
});
