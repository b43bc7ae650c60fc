/** Optimizers against PyTorch trajectories (fixtures/ops.*): five steps on a fixed loss. */
import { test } from 'node:test';
import { Adam, AdamW, type Optimizer, SGD, stack, type Tensor, tidy } from '../src/index.js';
import { expectClose, fixture, fixtureJson } from './helpers.js';

interface Case {
  name: string;
  op: string;
  kwargs: Record<string, unknown> & { kind: string; lr: number };
}
const { cases } = fixtureJson<{ cases: Case[] }>('ops.json');

function make(p: Tensor, kw: Case['kwargs']): Optimizer<{ lr: number }> {
  const { kind, ...o } = kw;
  if (kind === 'SGD') return new SGD([p], o as never);
  if (kind === 'Adam') return new Adam([p], o as never);
  return new AdamW([p], o as never);
}

for (const c of cases.filter((k) => k.op === 'optimizer')) {
  test(`${c.kwargs.kind} (${c.name}) follows PyTorch's trajectory`, () => {
    const p = fixture('optim.p0').clone().requiresGrad_();
    const target = fixture('optim.target');
    const weight = fixture('optim.c');
    const opt = make(p, c.kwargs);
    const traj: Tensor[] = [];
    for (let i = 0; i < 5; i++) {
      tidy(() => {
        opt.zeroGrad();
        const loss = weight.mul(p.sub(target).pow(2)).sum().add(p.pow(4).sum().div(10));
        loss.backward();
        opt.step();
      });
      traj.push(p.detach().clone());
    }
    const got = stack(traj);
    expectClose(got, fixture(`optim.${c.name}`), { rtol: 2e-5, atol: 2e-6, what: c.name });
    got.dispose();
    for (const t of traj) t.dispose();
    opt.dispose();
    p.dispose();
  });
}
