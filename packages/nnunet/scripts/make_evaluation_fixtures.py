#!/usr/bin/python3
"""Reference values for the evaluation and postprocessing tests (test/fixtures/evaluation).

    /usr/bin/python3 packages/nnunet/scripts/make_evaluation_fixtures.py

Needs only Debian's python3-numpy (1.24) and python3-scipy (1.10.1). nnU-Net v1 takes its surface
distances from medpy, which Debian does not package, so `surface_distances` below is an
independent re-statement of what medpy.metric.binary does (it is not medpy's code): the border of
a mask is the mask minus its binary erosion by the face-connected cross (voxels outside the array
count as background), and every border voxel of one mask gets the Euclidean distance, in mm, to
the nearest border voxel of the other (scipy's distance_transform_edt with `sampling`).
HD95 is the 95th percentile of both directions' distances together, ASD the mean of one
direction, HD the maximum and ASSD the mean of the two ASDs.

Arrays go to .npy files, numbers to index.json (floats as Python writes them, so they read back
to the same doubles; NaN is written as null).
"""
import json
import os

import numpy as np
from scipy import ndimage

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "evaluation")


def surface_distances(a, b, spacing):
    """Distances (mm) from each border voxel of `a`, in C order, to the border of `b`."""
    cross = ndimage.generate_binary_structure(a.ndim, 1)
    border_a = a & ~ndimage.binary_erosion(a, structure=cross, iterations=1)
    border_b = b & ~ndimage.binary_erosion(b, structure=cross, iterations=1)
    dist = ndimage.distance_transform_edt(~border_b, sampling=np.asarray(spacing, dtype=np.float64))
    return dist[border_a]


def surface_metrics(test, ref, spacing):
    t2r = surface_distances(test, ref, spacing)
    r2t = surface_distances(ref, test, spacing)
    return {
        "hd": float(max(t2r.max(), r2t.max())),
        "hd95": float(np.percentile(np.hstack((t2r, r2t)), 95)),
        "asd": float(t2r.mean()),
        "asd_reverse": float(r2t.mean()),
        "assd": float(np.mean((t2r.mean(), r2t.mean()))),
        "n_test_border": int(t2r.size),
        "n_ref_border": int(r2t.size),
    }


def blobs(seed, shape, fill, sigma=1.5):
    """A boolean mask of smooth random blobs covering about `fill` of the array."""
    field = ndimage.gaussian_filter(np.random.RandomState(seed).rand(*shape), sigma)
    return field > np.percentile(field, 100 * (1 - fill))


def ellipsoid(shape, centre, radii2, scale):
    """Voxels with sum(((i - c) ** 2) * w) <= scale, all integers, so TypeScript builds the same mask."""
    grids = np.indices(shape, dtype=np.int64)
    acc = np.zeros(shape, dtype=np.int64)
    for g, c, w in zip(grids, centre, radii2):
        acc += (g - c) ** 2 * w
    return acc <= scale


def nan_to_none(x):
    return None if isinstance(x, float) and np.isnan(x) else x


def v1_metrics(test, ref):
    """nnU-Net v1's default metrics for two boolean masks (NaN for the undefined cases)."""
    tp = int((test & ref).sum())
    fp = int((test & ~ref).sum())
    tn = int((~test & ~ref).sum())
    fn = int((~test & ref).sum())
    t_empty, t_full = not test.any(), bool(test.all())
    r_empty, r_full = not ref.any(), bool(ref.all())
    nan = float("nan")
    both_empty = t_empty and r_empty
    spec = nan if r_full else tn / (tn + fp)
    prec = nan if t_empty else tp / (tp + fp)
    sens = nan if r_empty else tp / (tp + fn)
    fomr = nan if t_full else fn / (fn + tn)
    return {
        "Accuracy": (tp + tn) / (tp + fp + tn + fn),
        "Dice": nan if both_empty else 2.0 * tp / (2 * tp + fp + fn),
        "False Discovery Rate": 1 - prec,
        "False Negative Rate": 1 - sens,
        "False Omission Rate": fomr,
        "False Positive Rate": 1 - spec,
        "Jaccard": nan if both_empty else tp / (tp + fp + fn),
        "Negative Predictive Value": 1 - fomr,
        "Precision": prec,
        "Recall": sens,
        "Total Positives Reference": tp + fn,
        "Total Positives Test": tp + fp,
        "True Negative Rate": spec,
    }


def keep_largest(seg, groups, volume_per_voxel, min_sizes):
    """Re-statement of v1's largest-component filter: per class or group, in order, on the running result."""
    seg = seg.copy()
    removed, kept = [], []
    for g in groups:
        members = g if isinstance(g, list) else [g]
        mask = np.isin(seg, members)
        lab, n = ndimage.label(mask)
        sizes = [float((lab == k).sum() * volume_per_voxel) for k in range(1, n + 1)]
        biggest = max(sizes) if n > 0 else None
        largest_removed = None
        for k, size in enumerate(sizes, start=1):
            if size == biggest:
                continue
            if min_sizes is not None and not size < min_sizes[str(tuple(g)) if isinstance(g, list) else str(g)]:
                continue
            seg[lab == k] = 0
            largest_removed = size if largest_removed is None else max(largest_removed, size)
        removed.append(largest_removed)
        kept.append(biggest)
    return seg, removed, kept


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {"numpy": np.__version__, "scipy": __import__("scipy").__version__}

    # Surface distances of random blob pairs (3-D anisotropic, touching the array border, 2-D).
    surface = []
    specs = [
        ("blobs_aniso", (14, 16, 18), (2.5, 0.8, 0.6), 0.3, 11, 12),
        ("blobs_iso", (20, 12, 16), (1.0, 1.0, 1.0), 0.2, 21, 22),
        ("blobs_dense", (10, 10, 12), (1.3, 0.7, 0.9), 0.6, 31, 32),
        ("blobs_2d", (40, 36), (0.7, 1.9), 0.35, 41, 42),
        ("blobs_sparse", (16, 16, 16), (3.0, 0.5, 0.5), 0.04, 51, 52),
    ]
    for name, shape, spacing, fill, s1, s2 in specs:
        test = blobs(s1, shape, fill)
        ref = blobs(s2, shape, fill)
        np.save(os.path.join(OUT, f"{name}.npy"), np.stack([test, ref]).astype(np.uint8))
        surface.append({"name": name, "shape": list(shape), "spacing": list(spacing),
                        **surface_metrics(test, ref, spacing)})

    # Two large ellipsoids (more than 8192 border voxels per mask, NumPy's summation buffer).
    big_shape = (60, 90, 100)
    big_test = ellipsoid(big_shape, (30, 44, 50), (9, 4, 3), 7000)
    big_ref = ellipsoid(big_shape, (31, 45, 48), (8, 4, 3), 6800)
    big = {"name": "ellipsoids", "shape": list(big_shape), "spacing": [1.7, 0.45, 0.55],
           "test": {"centre": [30, 44, 50], "weights": [9, 4, 3], "scale": 7000},
           "ref": {"centre": [31, 45, 48], "weights": [8, 4, 3], "scale": 6800},
           "voxels_test": int(big_test.sum()), "voxels_ref": int(big_ref.sum())}
    big.update(surface_metrics(big_test, big_ref, big["spacing"]))
    surface.append(big)
    index["surface"] = surface

    # v1's default metrics per label of a random 3-label segmentation pair, with HD95.
    rs = np.random.RandomState(7)
    shape = (12, 14, 10)
    spacing = (2.0, 0.7, 0.9)
    ref = np.zeros(shape, np.uint8)
    test = np.zeros(shape, np.uint8)
    for lab, (a, b) in enumerate([(61, 62), (63, 64), (65, 66)], start=1):
        ref[blobs(a, shape, 0.25) & (ref == 0)] = lab
        test[blobs(b, shape, 0.25) & (test == 0)] = lab
    test[test == 3] = 0  # label 3 is absent from the prediction
    ref[ref == 2] = np.where(rs.rand(int((ref == 2).sum())) < 0.5, 2, 1).astype(np.uint8)
    np.save(os.path.join(OUT, "multilabel.npy"), np.stack([test, ref]))
    per_label = {}
    for lab in (1, 2, 3, 4):
        t, r = test == lab, ref == lab
        m = {k: nan_to_none(v) for k, v in v1_metrics(t, r).items()}
        if t.any() and r.any() and not t.all() and not r.all():
            m["Hausdorff Distance 95"] = surface_metrics(t, r, spacing)["hd95"]
        else:
            m["Hausdorff Distance 95"] = None
        per_label[str(lab)] = m
    index["multilabel"] = {"shape": list(shape), "spacing": list(spacing), "labels": per_label}

    # scipy.ndimage.label with its default (face-connected) structure.
    labelling = []
    for name, shape, fill, seed, sigma in [
        ("label_3d", (18, 20, 22), 0.3, 71, 1.2),
        ("label_3d_thin", (12, 30, 9), 0.45, 72, 0.8),
        ("label_2d", (50, 45), 0.4, 73, 1.0),
    ]:
        mask = blobs(seed, shape, fill, sigma)
        lab, n = ndimage.label(mask)
        np.save(os.path.join(OUT, f"{name}.in.npy"), mask.astype(np.uint8))
        assert n < 256
        np.save(os.path.join(OUT, f"{name}.out.npy"), lab.astype(np.uint8))
        labelling.append({"name": name, "shape": list(shape), "count": int(n)})
    index["label"] = labelling

    # Largest-component filtering of a random multi-class segmentation, by class and by group.
    shape = (16, 18, 20)
    seg = np.zeros(shape, np.uint8)
    for lab, seed in [(1, 81), (2, 82), (3, 83)]:
        seg[blobs(seed, shape, 0.12, 1.0) & (seg == 0)] = lab
    np.save(os.path.join(OUT, "keep_largest.in.npy"), seg)
    spacing_xyz = (0.8, 0.75, 2.5)
    vpv = float(np.prod(spacing_xyz, dtype=np.float64))
    runs = []
    for name, groups, min_sizes in [
        ("per_class", [1, 2, 3], None),
        ("group_then_class", [[1, 2], 3, 1], None),
        ("min_sizes", [[1, 2], 3], {"(1, 2)": 6.0, "3": 4.0}),
    ]:
        out, removed, kept = keep_largest(seg, groups, vpv, min_sizes)
        np.save(os.path.join(OUT, f"keep_largest.{name}.npy"), out)
        runs.append({"name": name, "for_which_classes": groups, "min_sizes": min_sizes,
                     "largest_removed": removed, "kept_size": kept})
    index["keep_largest"] = {"shape": list(shape), "spacing_xyz": list(spacing_xyz),
                             "volume_per_voxel": vpv, "runs": runs}

    # np.mean / np.nanmean of float64 arrays (pairwise summation in 8192-element buffers). Values
    # span 2^-20..2^20 so that the summation order shows; they are exact in any language.
    means = []
    for n in (3, 7, 100, 129, 8192, 9000, 20000, 30000):
        i = np.arange(n, dtype=np.int64)
        a = (((i * 7919 + 13) % 1000).astype(np.float64) + 0.5) * np.ldexp(1.0, (i * 31) % 41 - 20)
        b = a.copy()
        b[i % 7 == 3] = np.nan
        means.append({"n": n, "mean": float(np.mean(a)), "nanmean": float(np.nanmean(b))})
    index["means"] = means

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
