#!/usr/bin/python3
"""Benchmark helper for bench/predict.ts: nnU-Net v1's prediction of a preprocessed case in PyTorch.

This is NOT nnU-Net code (nnU-Net is not installed and not imported). It restates, in its own
words, what nnU-Net v1 (1.7) runs when nnUNet_predict predicts a 3-D case with a 3d_fullres model
on the CPU, so that our TypeScript pipeline can be timed against the same work done through
Debian's python3-torch (PyTorch 1.13, the same LibTorch our binding links against):

  * Generic_UNet as nnUNetTrainerV2 configures it (INDEPENDENT RE-STATEMENT below): stacks of
    conv -> instance norm (affine, eps 1e-5) -> leaky ReLU (0.01), the first conv of every encoder
    stage strided by the previous pool kernel, a bottleneck split into two stacks, transposed
    convolutions up, skip concatenation, a 1x1x1 head per decoder level. Module names equal v1's,
    so the state dict of our model (model_final_checkpoint.safetensors) loads key for key. As v1,
    every head is computed and the full-resolution one returned.
  * The sliding window with Gaussian weighting and test-time mirroring: the re-statement in
    scripts/make_inference_fixtures.py (our own code, imported from there), with v1's caching of
    the Gaussian importance map per patch size.

The network and the sliding window run under torch.no_grad(), as v1's predict_3D does.

Protocol (driven by bench/predict.ts, one JSON object per line):
  argv: --plans PLANS.json --stage S --weights W.safetensors --threads N
  stdin  {"op": "predict", "input": "CASE.npy", "mirror_axes": [0, 1, 2], "step": 0.5,
          "compare": "OURS_SOFTMAX.npy" or null}
  stdout {"seconds": s, "max_abs_diff": d or null, "shape": [...]}
  stdin  {"op": "quit"}  ->  stdout {"maxrss_mib": peak RSS of this process, "versions": {...}}
The first line written is {"ready": true, ...} once torch is loaded and the weights are in.
Everything else goes to stderr.
"""

import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import make_inference_fixtures as sw  # noqa: E402  (our own re-statement of v1's sliding window)

# v1 computes the Gaussian importance map once per patch size and reuses it (cached on the
# network); the fixture script recomputes it per call, so cache it here.
_importance_map = sw.importance_map
_gaussian_cache = {}


def _cached_importance_map(patch, *args):
    key = (tuple(patch),) + args
    if key not in _gaussian_cache:
        _gaussian_cache[key] = _importance_map(patch, *args)
    return _gaussian_cache[key]


sw.importance_map = _cached_importance_map


# ---------------------------------------------------------------------------------------------
# A tiny safetensors reader: 8-byte little-endian header length, JSON header, raw tensor bytes.
# ---------------------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U8": "u1", "BOOL": "?",
}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]])
        arr = np.frombuffer(blob, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of nnU-Net v1's Generic_UNet (nnUNetTrainerV2's configuration).
# ---------------------------------------------------------------------------------------------

class ConvNormNonlin(nn.Module):
    def __init__(self, nd, cin, cout, kernel, stride):
        super().__init__()
        conv = nn.Conv3d if nd == 3 else nn.Conv2d
        norm = nn.InstanceNorm3d if nd == 3 else nn.InstanceNorm2d
        self.conv = conv(cin, cout, kernel, stride, [1 if k == 3 else 0 for k in kernel], bias=True)
        self.instnorm = norm(cout, eps=1e-5, affine=True)
        self.lrelu = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x):
        return self.lrelu(self.instnorm(self.conv(x)))


class StackedConvLayers(nn.Module):
    def __init__(self, nd, cin, cout, count, kernel, first_stride):
        super().__init__()
        self.blocks = nn.Sequential(*[
            ConvNormNonlin(nd, cin if i == 0 else cout, cout, kernel, first_stride if i == 0 else [1] * nd)
            for i in range(count)])

    def forward(self, x):
        return self.blocks(x)


class GenericUNet(nn.Module):
    def __init__(self, nd, cin, classes, base, max_features, per_stage, pool, kernels):
        super().__init__()
        n = len(pool)
        features, context = [], []
        fin, fout = cin, base
        for d in range(n):
            stride = [1] * nd if d == 0 else pool[d - 1]
            context.append(StackedConvLayers(nd, fin, fout, per_stage, kernels[d], stride))
            features.append(fout)
            fin, fout = fout, min(fout * 2, max_features)
        context.append(nn.Sequential(StackedConvLayers(nd, fin, fout, per_stage - 1, kernels[n], pool[n - 1]),
                                     StackedConvLayers(nd, fout, fout, 1, kernels[n], [1] * nd)))
        transposed = nn.ConvTranspose3d if nd == 3 else nn.ConvTranspose2d
        conv = nn.Conv3d if nd == 3 else nn.Conv2d
        localization, tu, heads = [], [], []
        below = fout
        for u in range(n):
            skip, up, kernel = features[n - 1 - u], pool[n - 1 - u], kernels[n - u]
            tu.append(transposed(below, skip, up, up, bias=False))
            localization.append(nn.Sequential(StackedConvLayers(nd, 2 * skip, skip, per_stage - 1, kernel, [1] * nd),
                                              StackedConvLayers(nd, skip, skip, 1, kernel, [1] * nd)))
            heads.append(conv(skip, classes, [1] * nd, bias=False))
            below = skip
        # v1's registration order (decoder first), which is also our state-dict order.
        self.conv_blocks_localization = nn.ModuleList(localization)
        self.conv_blocks_context = nn.ModuleList(context)
        self.tu = nn.ModuleList(tu)
        self.seg_outputs = nn.ModuleList(heads)

    def forward(self, x):
        skips = []
        for d in range(len(self.conv_blocks_context) - 1):
            x = self.conv_blocks_context[d](x)
            skips.append(x)
        x = self.conv_blocks_context[-1](x)
        outputs = []
        for u in range(len(self.tu)):
            x = torch.cat((self.tu[u](x), skips[-(u + 1)]), 1)
            x = self.conv_blocks_localization[u](x)
            outputs.append(self.seg_outputs[u](x))
        return outputs[-1]


def network_from_plans(plans, stage):
    """Generic_UNet's arguments as nnUNetTrainerV2 derives them from a plans stage."""
    p = plans["plans_per_stage"][stage]
    nd = len(p["patch_size"])
    pools_per_axis = p["num_pool_per_axis"]
    most = max(pools_per_axis)
    pool = p.get("pool_op_kernel_sizes") or [[2 if most - a <= i else 1 for a in pools_per_axis] for i in range(most)]
    kernels = p.get("conv_kernel_sizes") or [[3] * nd for _ in range(most + 1)]
    net = GenericUNet(nd, plans["num_modalities"], plans["num_classes"] + 1, plans["base_num_features"],
                      320 if nd == 3 else 480, plans.get("conv_per_stage") or 2, pool, kernels)
    return net, [int(v) for v in p["patch_size"]], plans["num_classes"] + 1


# ---------------------------------------------------------------------------------------------

def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plans", required=True)
    ap.add_argument("--stage", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    with open(args.plans) as f:
        plans = json.load(f)
    net, patch, classes = network_from_plans(plans, args.stage)
    net.load_state_dict(read_safetensors(args.weights), strict=True)
    net.eval()
    reply({"ready": True, "threads": torch.get_num_threads(), "patch": patch,
           "parameters": sum(p.numel() for p in net.parameters())})

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        x = np.load(cmd["input"])
        t0 = time.perf_counter()
        with torch.no_grad():
            softmax = sw.predict_tiled(net, x, patch, classes, cmd["step"], cmd["mirror_axes"], True)
        seconds = time.perf_counter() - t0
        diff = None
        if cmd.get("compare"):
            ours = np.load(cmd["compare"])
            diff = float(np.max(np.abs(ours.astype(np.float64) - softmax.astype(np.float64))))
        reply({"seconds": seconds, "max_abs_diff": diff, "shape": list(softmax.shape)})

    reply({"maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": np.__version__}})


if __name__ == "__main__":
    main()
