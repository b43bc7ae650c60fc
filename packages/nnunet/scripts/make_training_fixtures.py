#!/usr/bin/python3
"""Reference values for the training loss, its deep-supervision targets and the cross-validation
split (src/training/loss.ts, src/training/splits.ts).

Run with Debian's python3 (NumPy 1.24, SciPy 1.10, PyTorch 1.13: the LibTorch the binding links
against; scikit-learn 1.2 from python3-sklearn for the split):

    /usr/bin/python3 packages/nnunet/scripts/make_training_fixtures.py

nnU-Net, batchgenerators and scikit-image are not installed and not imported. What v1 computes
(nnunet/training/loss_functions/{dice_loss,crossentropy,deep_supervision}.py, the online evaluation
of nnUNetTrainer, DownsampleSegForDSTransform2 with batchgenerators' resize_segmentation at order 0,
which is scikit-image 0.19's resize, i.e. scipy.ndimage.zoom in grid mode, and do_split's random
80:20 fallback) is restated below in our own words from reading v1.7.0; that part is marked
"INDEPENDENT RE-STATEMENT". The 5-fold split itself comes from scikit-learn's KFold.

Writes test/fixtures/training/index.json and small float32 .npy arrays (network outputs, targets,
downsampled targets, gradients).
"""
import json
import os

import numpy as np
import scipy.ndimage
import torch
from sklearn.model_selection import KFold

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "training")


# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of nnU-Net v1's loss, deep-supervision targets and online evaluation.
# ---------------------------------------------------------------------------------------------

def sum_over(t, axes):
    """Sum over each distinct axis separately, the highest axis first."""
    for a in sorted(set(axes), reverse=True):
        t = t.sum(a)
    return t


def soft_dice(logits, seg, batch_dice, smooth=1e-5):
    """Softmax, one-hot target, soft tp/fp/fn per class (and per sample unless batch dice), the
    smoothed Dice with an extra 1e-8 in the denominator, background dropped, mean, negated."""
    spatial = list(range(2, logits.dim()))
    axes = ([0] + spatial) if batch_dice else spatial
    p = torch.softmax(logits, 1)
    with torch.no_grad():
        y = torch.zeros(p.shape, dtype=p.dtype)
        y.scatter_(1, seg.long(), 1)
    tp = sum_over(p * y, axes)
    fp = sum_over(p * (1 - y), axes)
    fn = sum_over((1 - p) * y, axes)
    dc = (2 * tp + smooth) / ((2 * tp + fp + fn + smooth) + 1e-8)
    dc = dc[1:] if batch_dice else dc[:, 1:]
    return -dc.mean()


def cross_entropy(logits, seg):
    """Mean cross-entropy against the label map without its channel axis, as integers."""
    return torch.nn.functional.cross_entropy(logits, seg[:, 0].long())


def dice_plus_ce(logits, seg, batch_dice):
    return 1 * cross_entropy(logits, seg) + 1 * soft_dice(logits, seg, batch_dice)


def weighted_outputs_loss(outputs, segs, weights, batch_dice):
    """weights[0] * loss of the first output, plus weights[i] * loss of every later output with a
    nonzero weight."""
    total = weights[0] * dice_plus_ce(outputs[0], segs[0], batch_dice)
    for i in range(1, len(outputs)):
        if weights[i] != 0:
            total = total + weights[i] * dice_plus_ce(outputs[i], segs[i], batch_dice)
    return total


def ds_loss_weights(num_outputs):
    """1 / 2**i per output, the last (lowest-resolution) one set to 0 unless it is the only one,
    normalised to sum 1."""
    w = np.array([1 / (2 ** i) for i in range(num_outputs)])
    if num_outputs > 1:
        w[num_outputs - 1] = 0
    return w / w.sum()


def ds_scales(pool_kernels):
    """All ones for the first output, then 1 / running product of the pool kernels, without the
    last pool step."""
    running = np.cumprod(np.vstack(pool_kernels), axis=0)
    return [[1.0] * len(pool_kernels[0])] + [list(1 / r) for r in running[:-1]]


def nearest_resize(img, new_shape):
    """scikit-image 0.19 resize(order=0, mode='edge', anti_aliasing=False) of a float image:
    scipy's zoom in grid mode with the zoom factors out/in (computed as 1 / (in / out))."""
    factors = np.asarray(img.shape, dtype=float) / np.asarray(new_shape, dtype=float)
    return scipy.ndimage.zoom(img.astype(float), [1 / f for f in factors], order=0, mode="nearest",
                              grid_mode=True)


def downsample_targets(seg, scales):
    """For each scale: the segmentation itself when all ones, else each [b, c] slice resized
    nearest-neighbour to np.round(shape * scale) over the spatial axes."""
    out = []
    for s in scales:
        if all(v == 1 for v in s):
            out.append(seg)
            continue
        shape = np.array(seg.shape).astype(float)
        for i in range(len(s)):
            shape[i + 2] *= s[i]
        shape = np.round(shape).astype(int)
        res = np.zeros(shape, dtype=seg.dtype)
        for b in range(seg.shape[0]):
            for c in range(seg.shape[1]):
                r = nearest_resize(seg[b, c], shape[2:])
                assert r.shape == tuple(shape[2:]), (r.shape, shape)
                res[b, c] = r.astype(seg.dtype)
        out.append(res)
    return out


def hard_counts(logits, seg):
    """Argmax of the softmax against the label map: tp, fp, fn per foreground class, summed over
    the samples (float32, per sample first)."""
    with torch.no_grad():
        c = logits.shape[1]
        pred = torch.softmax(logits, 1).argmax(1)
        ref = seg[:, 0]
        axes = tuple(range(1, ref.dim()))
        tp = torch.zeros((ref.shape[0], c - 1))
        fp = torch.zeros((ref.shape[0], c - 1))
        fn = torch.zeros((ref.shape[0], c - 1))
        for k in range(1, c):
            tp[:, k - 1] = sum_over((pred == k).float() * (ref == k).float(), axes)
            fp[:, k - 1] = sum_over((pred == k).float() * (ref != k).float(), axes)
            fn[:, k - 1] = sum_over((pred != k).float() * (ref == k).float(), axes)
        return [x.sum(0).numpy() for x in (tp, fp, fn)]


def global_dice(batches):
    """Counts summed over the batches (float32), 2tp / (2tp + fp + fn) per class without NaN,
    and their mean."""
    tp, fp, fn = (np.sum([b[i] for b in batches], 0) for i in range(3))
    per_class = [d for d in [2 * a / (2 * a + b + c) for a, b, c in zip(tp, fp, fn)] if not np.isnan(d)]
    return per_class, float(np.mean(per_class))


def random_80_20(n, fold):
    """Training indices of do_split's fallback for a fold beyond the split file."""
    rnd = np.random.RandomState(seed=12345 + fold)
    return sorted(int(i) for i in rnd.choice(n, int(n * 0.8), replace=False))


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))
    return name + ".npy"


def loss_case(rng, name, batch, classes, shape, pool_kernels, batch_dice, absent_class=None):
    """Random logits per output and a random label map; pool_kernels None = no deep supervision."""
    seg = rng.integers(0, classes, size=(batch, 1) + tuple(shape)).astype(np.float32)
    if absent_class is not None:
        s0 = seg[0]
        s0[s0 == absent_class] = 0
    if pool_kernels is None:
        scales = [[1.0] * len(shape)]
        weights = np.array([1.0])
    else:
        scales = ds_scales(pool_kernels)
        weights = ds_loss_weights(len(pool_kernels))
    segs = downsample_targets(seg, scales)
    logits = [torch.from_numpy((rng.standard_normal((batch, classes) + s.shape[2:]) * 2).astype(np.float32))
              .requires_grad_() for s in segs]
    tsegs = [torch.from_numpy(s) for s in segs]
    loss = weighted_outputs_loss(logits, tsegs, weights, batch_dice)
    loss.backward()
    with torch.no_grad():
        ce0 = cross_entropy(logits[0], tsegs[0]).item()
        dc0 = soft_dice(logits[0], tsegs[0], batch_dice).item()
    case = {
        "name": name,
        "batchDice": batch_dice,
        "numClasses": classes,
        "poolKernels": pool_kernels,
        "scales": [[float(v) for v in s] for s in scales],
        "weights": [float(w) for w in weights],
        "loss": loss.item(),
        "ce0": ce0,
        "dice0": dc0,
        "outputs": [],
        "counts": [c.tolist() for c in hard_counts(logits[0].detach(), tsegs[0])],
    }
    for i, (x, s) in enumerate(zip(logits, segs)):
        entry = {"logits": save(f"{name}_out{i}", x.detach().numpy()), "target": save(f"{name}_target{i}", s)}
        entry["grad"] = None if x.grad is None else save(f"{name}_grad{i}", x.grad.numpy())
        case["outputs"].append(entry)
    return case, hard_counts(logits[0].detach(), tsegs[0])


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy"):
            os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(20240611)
    torch.set_num_threads(1)

    cases = []
    c, _ = loss_case(rng, "2d_batch", 3, 3, (16, 12), None, True)
    cases.append(c)
    c, _ = loss_case(rng, "2d_sample", 3, 3, (16, 12), None, False, absent_class=2)
    cases.append(c)
    c, b1 = loss_case(rng, "3d_batch", 2, 3, (6, 12, 8), None, True)
    cases.append(c)
    c, b2 = loss_case(rng, "3d_sample_absent", 2, 3, (6, 12, 8), None, False, absent_class=1)
    cases.append(c)
    c, b3 = loss_case(rng, "3d_ds_batch", 2, 3, (6, 12, 8), [[1, 2, 2], [2, 2, 2], [2, 2, 2]], True)
    cases.append(c)
    c, _ = loss_case(rng, "2d_ds_sample", 2, 4, (32, 24), [[2, 2], [2, 2], [2, 2], [2, 2]], False)
    cases.append(c)
    per_class, mean = global_dice([b1, b2, b3])

    # Target downsampling on sizes that need rounding (half to even) and clamping.
    resize_cases = []
    for name, shape, scales in [
        ("ds_odd_3d", (2, 1, 9, 13, 10), [[1, 1, 1], [1, 0.5, 0.5], [0.5, 0.25, 0.25]]),
        ("ds_odd_2d", (3, 1, 15, 11), [[1, 1], [0.5, 0.5], [0.25, 0.25], [0.125, 0.125]]),
        ("ds_two_channels", (1, 2, 7, 6), [[1, 1], [0.5, 0.5]]),
    ]:
        seg = rng.integers(0, 5, size=shape).astype(np.float32)
        outs = downsample_targets(seg, scales)
        resize_cases.append({
            "name": name,
            "scales": scales,
            "seg": save(f"{name}_seg", seg),
            "outputs": [save(f"{name}_out{i}", o) for i, o in enumerate(outs)],
        })

    kfold = {}
    for n in [5, 6, 7, 8, 9, 11, 12, 13, 17, 23, 31, 64, 200]:
        kfold[str(n)] = [[int(i) for i in val] for _, val in
                         KFold(n_splits=5, shuffle=True, random_state=12345).split(np.arange(n))]
    kfold3 = [[int(i) for i in val] for _, val in
              KFold(n_splits=3, shuffle=True, random_state=7).split(np.arange(10))]
    random_splits = [{"n": n, "fold": f, "train": random_80_20(n, f)} for n, f in [(12, 5), (7, 5), (200, 9), (37, 6)]]

    index = {
        "lossCases": cases,
        "onlineEvaluation": {"cases": ["3d_batch", "3d_sample_absent", "3d_ds_batch"],
                             "globalDcPerClass": [float(d) for d in per_class], "mean": mean},
        "resizeCases": resize_cases,
        "kfold": kfold,
        "kfold3Seed7n10": kfold3,
        "random8020": random_splits,
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
