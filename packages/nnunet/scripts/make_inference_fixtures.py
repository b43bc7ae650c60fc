#!/usr/bin/python3
"""Reference cases for nnU-Net v1's sliding-window prediction (src/inference/sliding-window.ts).

Run with Debian's python3 (SciPy 1.10.1, NumPy 1.24, PyTorch 1.13.1, the same LibTorch that the
binding links against):

    /usr/bin/python3 packages/nnunet/scripts/make_inference_fixtures.py

nnU-Net and batchgenerators are not installed and not imported. The Gaussian comes straight from
scipy.ndimage.gaussian_filter; everything v1 wraps around it (the window steps, the importance
map's normalisation, batchgenerators' pad_nd_image, the tiled prediction with test-time
mirroring and Gaussian weighting) is restated below from reading v1.7.0's
nnunet/network_architecture/neural_network.py and batchgenerators/augmentations/utils.py. That
restatement is marked "INDEPENDENT RE-STATEMENT"; it is ours, not a copy.

Writes test/fixtures/inference/index.json (steps, pad shapes, Gaussian maps: small ones value by
value, large ones as the sha256 of their float32 bytes) and one <case>.npy (float32 softmax,
[K, ...spatial]) per golden prediction. The golden networks use dyadic weights and inputs, so their
convolutions are exact in float32 whatever the summation order; the predictions therefore depend
only on the sliding-window arithmetic (and on softmax, the same LibTorch kernel on both sides).
"""
import hashlib
import itertools
import json
import os

import numpy as np
import scipy
import torch
from scipy.ndimage import gaussian_filter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "inference")


# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of v1's sliding-window glue (nnU-Net v1.7.0 / batchgenerators 0.25).
# ---------------------------------------------------------------------------------------------

def window_starts(patch, image, step):
    """Per axis: ceil((image - patch) / (patch * step)) + 1 windows, spread evenly from 0 to
    image - patch, each start rounded with np.round (half to even)."""
    out = []
    for p, n in zip(patch, image):
        count = int(np.ceil((n - p) / (p * step))) + 1
        last = n - p
        spacing = last / (count - 1) if count > 1 else 99999999999
        out.append([int(np.round(spacing * i)) for i in range(count)])
    return out


def importance_map(patch, sigma_scale=1.0 / 8, factor=1.0):
    """A centred unit impulse blurred by scipy's gaussian_filter (sigma = patch * scale, constant
    border), divided by its maximum, scaled, cast to float32; exact zeros become the smallest
    nonzero value (v1 divides by this map's sums)."""
    impulse = np.zeros(patch)
    impulse[tuple(p // 2 for p in patch)] = 1
    blurred = gaussian_filter(impulse, [p * sigma_scale for p in patch], 0, mode="constant", cval=0)
    m = (blurred / np.max(blurred) * factor).astype(np.float32)
    m[m == 0] = np.min(m[m != 0])
    return m


def pad_to(image, min_shape):
    """pad_nd_image(image, min_shape, 'constant', {'constant_values': 0}, return_slicer=True):
    the last len(min_shape) axes grow to at least min_shape, the extra split floor/ceil below/above;
    the slicer gives [start, stop) per axis of the padded array."""
    lead = image.ndim - len(min_shape)
    old = image.shape[lead:]
    grow = [max(m, o) - o for m, o in zip(min_shape, old)]
    pads = [(0, 0)] * lead + [(g // 2, g // 2 + g % 2) for g in grow]
    padded = np.pad(image, pads, "constant", constant_values=0) if any(grow) else image
    slicer = [[lo, size - hi] for (lo, hi), size in zip(pads, padded.shape)]
    return padded, slicer


# The flips v1 tries, in its order, as spatial axes of the patch; a flip is used when every one of
# its axes is among the allowed mirror axes, and each prediction weighs 1 / 2**len(mirror_axes).
FLIPS = {
    3: [(), (2,), (1,), (2, 1), (0,), (2, 0), (1, 0), (2, 1, 0)],
    2: [(), (1,), (0,), (1, 0)],
}


def predict_tiled(net, x, patch, num_classes, step, mirror_axes, use_gaussian):
    """v1's tiled prediction of one [C, ...spatial] array with a network of the same
    dimensionality (the path with the accumulators in float32 NumPy arrays on the host)."""
    nd = len(patch)
    data, slicer = pad_to(x, patch)
    starts = window_starts(patch, data.shape[1:], step)
    tiles = list(itertools.product(*starts))
    weighted = use_gaussian and len(tiles) > 1
    gmap = importance_map(patch) if weighted else None
    add = gmap if weighted else np.ones(patch, dtype=np.float32)
    flips = [f for f in FLIPS[nd] if all(a in mirror_axes for a in f)]
    share = 1 / 2 ** len(mirror_axes)
    acc = np.zeros([num_classes] + list(data.shape[1:]), dtype=np.float32)
    hits = np.zeros([num_classes] + list(data.shape[1:]), dtype=np.float32)
    for start in tiles:
        window = tuple(slice(s, s + p) for s, p in zip(start, patch))
        tile = torch.from_numpy(data[(None, slice(None)) + window]).float()
        probs = torch.zeros([1, num_classes] + list(patch), dtype=torch.float)
        with torch.no_grad():
            for f in flips:
                dims = tuple(a + 2 for a in f)
                if dims:
                    pred = torch.softmax(net(torch.flip(tile, dims)), 1)
                    probs += share * torch.flip(pred, dims)
                else:
                    probs += share * torch.softmax(net(tile), 1)
        if weighted:
            probs[:, :] *= torch.from_numpy(gmap)
        acc[(slice(None),) + window] += probs[0].numpy()
        hits[(slice(None),) + window] += add
    keep = (slice(0, num_classes),) + tuple(slice(a, b) for a, b in slicer[1:])
    return acc[keep] / hits[keep]


def predict_slices(net, x, patch, num_classes, step, mirror_axes, use_gaussian):
    """v1's 2-D network on a 3-D case: every slice along the first spatial axis on its own."""
    per_slice = [predict_tiled(net, x[:, s], patch, num_classes, step, mirror_axes, use_gaussian)
                 for s in range(x.shape[1])]
    return np.stack(per_slice, 1)


# ---------------------------------------------------------------------------------------------
# Deterministic dyadic inputs and networks (the test builds the same ones from these formulas).
# ---------------------------------------------------------------------------------------------

def golden_input(shape):
    """x[c, i, j, (k)] = ((7c + 5i + 3j + 11k + (i*j) % 5) % 17 - 8) / 16."""
    idx = np.indices(shape)
    c, i, j = idx[0], idx[1], idx[2]
    k = idx[3] if len(shape) == 4 else 0
    return (((7 * c + 5 * i + 3 * j + 11 * k + (i * j) % 5) % 17 - 8) / 16).astype(np.float32)


def golden_net(nd, cin, hidden, k):
    """conv 3^nd (padding 1, cin -> hidden) -> ReLU -> conv 1^nd (hidden -> k).
    w1[o, i, a, b, (c)] = ((13o + 7i + 5a + 3b + 2c + a*b) % 9 - 4) / 32, b1[o] = (o % 3 - 1) / 4,
    w2[q, o] = ((5q + 3o) % 7 - 3) / 4, b2[q] = (q - 1) / 8."""
    idx = np.indices((hidden, cin) + (3,) * nd)
    o, i, a, b = idx[0], idx[1], idx[2], idx[3]
    c = idx[4] if nd == 3 else 0
    w1 = torch.from_numpy((((13 * o + 7 * i + 5 * a + 3 * b + 2 * c + a * b) % 9 - 4) / 32).astype(np.float32))
    b1 = torch.tensor([(o % 3 - 1) / 4 for o in range(hidden)], dtype=torch.float)
    q, o2 = np.indices((k, hidden))
    w2 = torch.from_numpy((((5 * q + 3 * o2) % 7 - 3) / 4).astype(np.float32)).reshape((k, hidden) + (1,) * nd)
    b2 = torch.tensor([(q - 1) / 8 for q in range(k)], dtype=torch.float)
    conv = torch.nn.functional.conv3d if nd == 3 else torch.nn.functional.conv2d
    return lambda x: conv(torch.relu(conv(x, w1, b1, padding=1)), w2, b2)


GOLDEN = [
    # name, input shape [C, ...], patch, classes, step, mirror axes, Gaussian, slice-wise 2-D
    ("tiled3d_mirror_all", [2, 13, 17, 11], [8, 12, 8], 3, 0.5, [0, 1, 2], True, False),
    ("tiled3d_padded_mirror_02", [1, 6, 15, 9], [8, 8, 8], 3, 0.33, [0, 2], True, False),
    ("tiled3d_plain", [2, 10, 10, 10], [6, 6, 6], 2, 1.0, [], False, False),
    ("single_tile3d_mirror_all", [1, 8, 12, 8], [8, 12, 8], 3, 0.5, [0, 1, 2], True, False),
    ("slices2d_mirror_all", [2, 4, 19, 14], [12, 10], 3, 0.5, [0, 1], True, True),
    ("image2d_padded_mirror_1", [2, 19, 14], [12, 16], 3, 0.5, [1], True, False),
]


def sha256_f32(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(20240)

    steps = [
        # v1's own examples, plus cases whose exact starts need np.round's half-to-even rule
        ([30, 224, 224], [162, 529, 529], 0.5),
        ([30, 224, 224], [162, 529, 529], 1),
        ([30, 224, 224], [162, 529, 529], 0.1),
        ([30, 224, 224], [60, 448, 224], 1),
        ([30, 224, 224], [60, 448, 224], 0.5),
        ([30, 224, 224], [30, 224, 224], 1),
        ([30, 224, 224], [30, 224, 224], 0.125),
        ([123, 54, 123], [246, 162, 369], 0.25),
        ([64], [110], 0.5),
        ([6], [11], 0.5),
        ([6, 10], [21, 13], 0.5),
        ([40, 56, 40], [40, 56, 40], 0.5),
    ]
    for _ in range(40):
        nd = int(rng.randint(1, 4))
        patch = [int(v) for v in rng.randint(1, 130, nd)]
        image = [p + int(rng.randint(0, 300)) for p in patch]
        step = float(rng.choice([0.1, 0.25, 1 / 3, 0.33, 0.5, 0.6, 0.7, 0.9, 1.0]))
        steps.append((patch, image, step))
    steps_out = [{"patch": p, "image": i, "step": s, "starts": window_starts(p, i, s)} for p, i, s in steps]

    pads = []
    for shape, minimum in [([1, 36, 50, 35], [40, 56, 40]), ([2, 5, 7], [8, 6]), ([3, 9, 4, 11], [9, 4, 11]),
                           ([1, 2, 3, 4], [7, 8, 9]), ([4, 10], [3]), ([1, 1, 31, 30], [32, 32])]:
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1
        padded, slicer = pad_to(x, minimum)
        assert np.array_equal(padded[tuple(slice(a, b) for a, b in slicer)], x)
        pads.append({"shape": shape, "minShape": minimum, "paddedShape": list(padded.shape), "slicer": slicer,
                     "sha256": sha256_f32(padded)})

    gaussians = []
    small = [([5], 1 / 8, 1), ([7, 3], 1 / 8, 1), ([2, 9, 4], 1 / 8, 1), ([1, 6], 1 / 8, 1), ([3, 3, 3], 1 / 8, 1),
             ([9, 8], 0.25, 10), ([64], 1 / 32, 1), ([20, 33], 1 / 16, 1), ([12, 10], 1 / 8, 1)]
    large = [[40, 56, 40], [8, 12, 8], [128, 128, 128], [56, 40], [512, 512], [20, 320, 256], [28, 256, 224],
             [80, 192, 160], [64, 160, 160], [96, 160, 128], [48, 192, 192], [24, 224, 192], [160, 160], [6, 6, 6]]
    for patch, scale, factor in small:
        m = importance_map(patch, scale, factor)
        gaussians.append({"patch": patch, "sigmaScale": scale, "factor": factor,
                          "values": [float(v) for v in m.ravel()], "sha256": sha256_f32(m)})
    for patch in large:
        m = importance_map(patch)
        gaussians.append({"patch": patch, "sigmaScale": 1 / 8, "factor": 1, "min": float(m.min()),
                          "sum": float(m.astype(np.float64).sum()), "sha256": sha256_f32(m)})

    golden = []
    for name, shape, patch, k, step, mirror, gauss, slicewise in GOLDEN:
        x = golden_input(shape)
        net = golden_net(len(patch), shape[0], 4, k)
        run = predict_slices if slicewise else predict_tiled
        out = run(net, x, patch, k, step, mirror, gauss)
        np.save(os.path.join(OUT, name + ".npy"), out.astype(np.float32))
        golden.append({"name": name, "shape": shape, "patch": patch, "classes": k, "hidden": 4, "step": step,
                       "mirrorAxes": mirror, "gaussian": gauss, "slicewise": slicewise,
                       "outShape": list(out.shape)})

    # The softmax kernel on its own: where LibTorch's softmax gives these very bytes, the golden
    # predictions above must be reproduced bit for bit.
    probe_logits = ((np.arange(3 * 8 * 12 * 8) * 37 % 101 - 50) / 8).astype(np.float32).reshape(1, 3, 8, 12, 8)
    probe = torch.softmax(torch.from_numpy(probe_logits), 1).numpy()

    index = {
        "generator": "packages/nnunet/scripts/make_inference_fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__},
        "steps": steps_out,
        "pads": pads,
        "gaussians": gaussians,
        "golden": golden,
        "softmaxProbe": {"logits": "((i * 37) % 101 - 50) / 8 for i < 2304, shape [1, 3, 8, 12, 8]",
                         "sha256": sha256_f32(probe)},
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
