#!/usr/bin/python3
"""Benchmark helper for bench/train.ts: nnU-Net v1's training step on a dummy batch, in PyTorch.

This is NOT nnU-Net code (nnU-Net is not installed and not imported). It restates, in its own
words, what nnU-Net v1 (1.7) runs per iteration in nnUNetTrainerV2_dummyLoad (nnUNetTrainerV2 fed
one fixed random batch) on the CPU, so that our TypeScript step can be timed against the same
work done through Debian's python3-torch (PyTorch 1.13, the LibTorch our binding links against):

  * Generic_UNet as nnUNetTrainerV2 configures it, with deep supervision (INDEPENDENT
    RE-STATEMENT below): stacks of conv -> instance norm (affine, eps 1e-5) -> leaky ReLU (0.01,
    in place), the first conv of every encoder stage strided by the previous pool kernel, the
    bottleneck as two stacks, transposed convolutions up, skip concatenation, a 1x1x1 head per
    decoder level; training returns every head, full resolution first. He initialisation
    (kaiming normal, a = 0.01, zero biases). Architecture read from our plans JSON.
  * The loss (INDEPENDENT RE-STATEMENT below): v1's DC_and_CE_loss (soft Dice on v1's own softmax
    helper, tp/fp/fn/tn from a scattered one-hot, sums one axis at a time, smooth 1e-5, background
    left out, batch or per-sample Dice; plus cross-entropy on the label map), summed over the
    deep-supervision outputs with MultipleOutputLoss2's weights (1/2^i, the lowest output 0,
    normalised; zero-weight outputs skipped).
  * The step, as nnUNetTrainerV2.run_iteration: zero_grad, forward, loss, backward,
    clip_grad_norm_(12), SGD (lr 0.01, momentum 0.99, Nesterov, weight decay 3e-5) step, loss
    fetched to the host.

The dummy batch is nnUNetTrainerV2_dummyLoad's: data U[0, 1) of shape (B, C, *patch), and per
deep-supervision scale a label map round(U[0, 1) * (classes - 1)) of size int(patch * scale).

argv: --plans PLANS.json --stage S --batch B --threads N --iters N --warmup N --batch-dice 0|1 --seed S
      [--device cpu|cuda] [--amp 0|1]   (amp: v1's float16 autocast + GradScaler step, CUDA only)
stdout (one JSON line at the end): {"ms_per_iter", "min_ms", "max_ms", "mean_loss", "threads",
"device", "amp", "parameters", "versions"}. Progress goes to stderr.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch
from torch import nn

# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of nnU-Net v1's Generic_UNet (nnUNetTrainerV2's configuration,
# deep supervision on).
# ---------------------------------------------------------------------------------------------


class ConvNormNonlin(nn.Module):
    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride, [(k - 1) // 2 for k in kernel], bias=True)
        self.instnorm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)
        self.lrelu = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x):
        return self.lrelu(self.instnorm(self.conv(x)))


class StackedConvLayers(nn.Module):
    def __init__(self, cin, cout, count, kernel, first_stride):
        super().__init__()
        layers = []
        for i in range(count):
            layers.append(ConvNormNonlin(cin if i == 0 else cout, cout, kernel, first_stride if i == 0 else [1, 1, 1]))
        self.blocks = nn.Sequential(*layers)

    def forward(self, x):
        return self.blocks(x)


class GenericUNetDS(nn.Module):
    """Returns every decoder head's logits, full resolution first (v1's training forward)."""

    def __init__(self, cin, classes, base, max_features, per_stage, pool, kernels):
        super().__init__()
        n = len(pool)
        skip_features = []
        context = []
        fin, fout = cin, base
        for d in range(n):
            stride = [1, 1, 1] if d == 0 else pool[d - 1]
            context.append(StackedConvLayers(fin, fout, per_stage, kernels[d], stride))
            skip_features.append(fout)
            fin, fout = fout, min(fout * 2, max_features)
        bottom = nn.Sequential(
            StackedConvLayers(fin, fout, per_stage - 1, kernels[n], pool[n - 1]),
            StackedConvLayers(fout, fout, 1, kernels[n], [1, 1, 1]),
        )
        context.append(bottom)
        up, localization, heads = [], [], []
        below = fout
        for u in range(n):
            skip = skip_features[n - 1 - u]
            k = pool[n - 1 - u]
            up.append(nn.ConvTranspose3d(below, skip, k, k, bias=False))
            localization.append(nn.Sequential(
                StackedConvLayers(2 * skip, skip, per_stage - 1, kernels[n - u], [1, 1, 1]),
                StackedConvLayers(skip, skip, 1, kernels[n - u], [1, 1, 1]),
            ))
            heads.append(nn.Conv3d(skip, classes, 1, 1, 0, bias=False))
            below = skip
        self.conv_blocks_localization = nn.ModuleList(localization)
        self.conv_blocks_context = nn.ModuleList(context)
        self.tu = nn.ModuleList(up)
        self.seg_outputs = nn.ModuleList(heads)

    def forward(self, x):
        skips = []
        for block in self.conv_blocks_context[:-1]:
            x = block(x)
            skips.append(x)
        x = self.conv_blocks_context[-1](x)
        heads = []
        for u in range(len(self.tu)):
            x = torch.cat((self.tu[u](x), skips[-(u + 1)]), dim=1)
            x = self.conv_blocks_localization[u](x)
            heads.append(self.seg_outputs[u](x))
        return tuple([heads[-1]] + heads[:-1][::-1])


def he_init(module):
    """v1's InitWeights_He(1e-2) applied to every module."""
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
            nn.init.kaiming_normal_(m.weight, a=1e-2)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


def network_from_plans(plans, stage):
    p = plans["plans_per_stage"][stage]
    if len(p["patch_size"]) != 3:
        raise SystemExit("train_torch.py handles 3-D plans stages only")
    pools_per_axis = p["num_pool_per_axis"]
    most = max(pools_per_axis)
    pool = p.get("pool_op_kernel_sizes") or [[2 if most - a <= i else 1 for a in pools_per_axis] for i in range(most)]
    kernels = p.get("conv_kernel_sizes") or [[3, 3, 3] for _ in range(most + 1)]
    classes = plans["num_classes"] + 1
    net = GenericUNetDS(plans["num_modalities"], classes, plans["base_num_features"], 320,
                        plans.get("conv_per_stage") or 2, pool, kernels)
    return net, [int(v) for v in p["patch_size"]], classes, pool


# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of nnU-Net v1's DC_and_CE_loss and MultipleOutputLoss2.
# ---------------------------------------------------------------------------------------------

def v1_softmax(x):
    """v1's softmax_helper: subtract the channel max, exponentiate, divide by the channel sum."""
    reps = [1] * x.dim()
    reps[1] = x.size(1)
    e = torch.exp(x - x.max(1, keepdim=True)[0].repeat(*reps))
    return e / e.sum(1, keepdim=True).repeat(*reps)


def sum_axes(t, axes):
    for a in sorted(set(axes), reverse=True):
        t = t.sum(int(a))
    return t


def soft_dice_loss(logits, target, batch_dice, smooth=1e-5):
    spatial = list(range(2, logits.dim()))
    axes = [0] + spatial if batch_dice else spatial
    p = v1_softmax(logits)
    with torch.no_grad():
        onehot = torch.zeros(logits.shape, dtype=logits.dtype, device=logits.device)
        onehot.scatter_(1, target.long(), 1)
    tp = sum_axes(p * onehot, axes)
    fp = sum_axes(p * (1 - onehot), axes)
    fn = sum_axes((1 - p) * onehot, axes)
    sum_axes((1 - p) * (1 - onehot), axes)  # v1 computes the true negatives too, and drops them
    dc = (2 * tp + smooth) / (2 * tp + fp + fn + smooth + 1e-8)
    dc = dc[1:] if batch_dice else dc[:, 1:]
    return -dc.mean()


_ce = nn.CrossEntropyLoss()


def dc_and_ce_loss(logits, target, batch_dice):
    return _ce(logits, target[:, 0].long()) + soft_dice_loss(logits, target, batch_dice)


def ds_weights(n):
    w = np.array([1 / (2 ** i) for i in range(n)])
    w[[i > 0 and i == n - 1 for i in range(n)]] = 0
    return w / w.sum()


def multiple_output_loss(outputs, targets, weights, batch_dice):
    total = weights[0] * dc_and_ce_loss(outputs[0], targets[0], batch_dice)
    for i in range(1, len(outputs)):
        if weights[i] != 0:
            total = total + weights[i] * dc_and_ce_loss(outputs[i], targets[i], batch_dice)
    return total


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plans", required=True)
    ap.add_argument("--stage", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch-dice", type=int, choices=[0, 1], required=True)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--amp", type=int, choices=[0, 1], default=0,
                    help="1: float16 autocast with a GradScaler (v1's GPU default; CUDA only)")
    args = ap.parse_args()
    device = torch.device(args.device)
    amp = args.amp == 1
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # v1's NetworkTrainer sets it (non-deterministic default)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.plans) as f:
        plans = json.load(f)
    net, patch, classes, pool = network_from_plans(plans, args.stage)
    he_init(net)
    net.to(device)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), 0.01, weight_decay=3e-5, momentum=0.99, nesterov=True)

    # Deep-supervision scales: 1, then 1 / the running product of the pool kernels (all but the last).
    scales = [[1.0, 1.0, 1.0]]
    running = np.ones(3)
    for k in pool[:-1]:
        running = running * np.array(k)
        scales.append(list(1 / running))
    weights = ds_weights(len(scales))
    data = torch.rand((args.batch, plans["num_modalities"], *patch)).to(device)
    targets = [torch.round(torch.rand((args.batch, 1, *[int(p * s) for p, s in zip(patch, sc)])) * (classes - 1)).to(device)
               for sc in scales]
    scaler = None
    if amp:
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    batch_dice = args.batch_dice == 1

    tty = sys.stderr.isatty()
    times, losses = [], []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        optimizer.zero_grad()
        if amp:
            # v1's run_iteration with amp: forward and loss under autocast, scaled backward,
            # unscale before clipping, the scaler's step and update.
            with torch.autocast("cuda", dtype=torch.float16):
                outputs = net(data)
                loss = multiple_output_loss(outputs, targets, weights, batch_dice)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
            scaler.step(optimizer)
            scaler.update()
        else:
            outputs = net(data)
            loss = multiple_output_loss(outputs, targets, weights, batch_dice)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
            optimizer.step()
        value = loss.detach().cpu().numpy()
        del outputs, loss
        ms = (time.perf_counter() - t0) * 1000
        if i >= args.warmup:
            times.append(ms)
            losses.append(float(value))
        if not tty:
            continue
        sys.stderr.write(f"\r  torch dummy: {'warm-up ' if i < args.warmup else ''}"
                         f"{i + 1 if i < args.warmup else i + 1 - args.warmup}/"
                         f"{args.warmup if i < args.warmup else args.iters}, last {ms:.0f} ms      ")
        sys.stderr.flush()
    if tty:
        sys.stderr.write("\r" + " " * 60 + "\r")
        sys.stderr.flush()
    print(json.dumps({
        "ms_per_iter": sum(times) / len(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "mean_loss": sum(losses) / len(losses),
        "threads": torch.get_num_threads(),
        "device": args.device,
        "amp": amp,
        "parameters": sum(p.numel() for p in net.parameters()),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__},
    }))


if __name__ == "__main__":
    main()
