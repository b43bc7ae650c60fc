#!/usr/bin/python3
"""Reference cases for nnU-Net v1's resampling (src/preprocessing/resample.ts).

Run with Debian's python3, which has the library versions v1's golden outputs were made with
(scikit-image 0.19.3, SciPy 1.10.1, NumPy 1.24):

    /usr/bin/python3 packages/nnunet/scripts/make_resample_fixtures.py

nnU-Net and batchgenerators are not installed. The numerics come straight from
skimage.transform.resize and scipy.ndimage.map_coordinates; the little glue v1 puts around them
(resample_patient's new shape and separate-z decision, resample_data_or_seg's slice loop,
batchgenerators' per-label resize_segmentation) is restated below from reading v1.7.0's
nnunet/preprocessing/preprocessing.py and batchgenerators/augmentations/utils.py. That restatement
is marked "INDEPENDENT RE-STATEMENT"; it is ours, not a copy.

Writes test/fixtures/resample/<case>.<array>.npy (float32, C order) and index.json, which lists
for every case its inputs, parameters and expected outputs, plus a table of new-shape and
separate-z decisions.
"""
import json
import os

import numpy as np
import scipy
import skimage
from scipy.ndimage import gaussian_filter, map_coordinates
from skimage.transform import resize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "resample")
ANISO_THRESHOLD = 3  # v1's RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD


# ---------------------------------------------------------------------------------------------
# INDEPENDENT RE-STATEMENT of v1's glue (nnU-Net v1.7.0 / batchgenerators 0.25 behaviour).
# ---------------------------------------------------------------------------------------------

def anisotropic(spacing, threshold):
    """get_do_separate_z: largest / smallest spacing above the threshold."""
    s = np.asarray(spacing, dtype=float)
    return bool(s.max() / s.min() > threshold)


def lowres_axes(spacing):
    """get_lowres_axis: every axis whose spacing equals the largest one."""
    s = np.asarray(spacing, dtype=float)
    return [int(a) for a in np.flatnonzero(max(spacing) / s == 1)]


def label_resize(seg, shape, order):
    """batchgenerators resize_segmentation: nearest for order 0, else one-hot masks >= 0.5."""
    if order == 0:
        return resize(seg.astype(float), shape, 0, mode="edge", clip=True, anti_aliasing=False).astype(seg.dtype)
    result = np.zeros(shape, dtype=seg.dtype)
    for label in np.unique(seg):
        soft = resize((seg == label).astype(float), shape, order, mode="edge", clip=True, anti_aliasing=False)
        result[soft >= 0.5] = label
    return result


def image_resize(img, shape, order):
    return resize(img, shape, order, mode="edge", anti_aliasing=False)


def resample_channels(data, new_shape, is_seg, axis, order, order_z):
    """resample_data_or_seg for data (C, z, y, x); axis None means one joint resize."""
    out_type = data.dtype
    old = np.array(data.shape[1:])
    new_shape = np.array(new_shape)
    if np.all(old == new_shape):
        return data
    work = data.astype(float)
    fn = label_resize if is_seg else image_resize
    channels = []
    for ch in work:
        if axis is None:
            channels.append(fn(ch, tuple(new_shape), order).astype(out_type))
            continue
        plane = tuple(int(s) for d, s in enumerate(new_shape) if d != axis)
        slices = [fn(np.take(ch, i, axis=axis), plane, order).astype(out_type) for i in range(old[axis])]
        stack = np.stack(slices, axis)
        if old[axis] == new_shape[axis]:
            channels.append(stack)
            continue
        # Sample the stack on the output grid with map_coordinates (the in-plane axes land on whole
        # voxels, only the low-resolution axis moves).
        grids = np.meshgrid(*[np.arange(int(m), dtype=float) for m in new_shape], indexing="ij")
        coords = np.array([(float(n) / m) * (g + 0.5) - 0.5 for n, m, g in zip(stack.shape, new_shape, grids)])
        if not is_seg or order_z == 0:
            channels.append(map_coordinates(stack, coords, order=order_z, mode="nearest").astype(out_type))
        else:
            result = np.zeros(tuple(new_shape), dtype=out_type)
            for label in np.unique(stack):
                soft = map_coordinates((stack == label).astype(float), coords, order=order_z, mode="nearest")
                result[np.round(soft) > 0.5] = label
            channels.append(result)
    return np.stack(channels, 0).astype(out_type)


def new_shape_for(shape, original_spacing, target_spacing):
    ratio = (np.array(original_spacing) / np.array(target_spacing)).astype(float)
    return [int(v) for v in np.round(ratio * np.array(shape)).astype(int)]


def separate_axis(original_spacing, target_spacing, force, threshold):
    """resample_patient's decision: the single low-resolution axis, or None."""
    axes = None
    if force is not None:
        if force:
            axes = lowres_axes(original_spacing)
    elif anisotropic(original_spacing, threshold):
        axes = lowres_axes(original_spacing)
    elif anisotropic(target_spacing, threshold):
        axes = lowres_axes(target_spacing)
    return axes[0] if axes is not None and len(axes) == 1 else None


def patient(data, seg, original_spacing, target_spacing, order_data=3, order_seg=0, force=False,
            order_z_data=0, order_z_seg=0, threshold=ANISO_THRESHOLD):
    ref = data if data is not None else seg
    shape = new_shape_for(ref.shape[1:], original_spacing, target_spacing)
    axis = separate_axis(original_spacing, target_spacing, force, threshold)
    d = None if data is None else resample_channels(data, shape, False, axis, order_data, order_z_data)
    s = None if seg is None else resample_channels(seg, shape, True, axis, order_seg, order_z_seg)
    return d, s, shape, axis


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

rng = np.random.RandomState(20240611)


def noise(shape, scale=100.0, offset=0.0):
    return (rng.randn(*shape) * scale + offset).astype(np.float32)


def smooth(shape, sigma=1.5, scale=300.0, offset=40.0):
    v = gaussian_filter(rng.randn(*shape), sigma)
    return (v / (np.abs(v).max() + 1e-12) * scale + offset).astype(np.float32)


def labels(shape, with_minus_one=True, sigma=1.2):
    """Blobby label map in {0, 1, 2} with a -1 rim (the region outside the nonzero mask)."""
    v = gaussian_filter(rng.randn(*shape), sigma)
    lab = np.zeros(shape, dtype=np.float32)
    lab[v > 0.05] = 1
    lab[v > 0.35] = 2
    if with_minus_one:
        spatial = shape[1:]
        mask = np.zeros(spatial, dtype=bool)
        mask[..., : max(1, spatial[-1] // 5)] = True
        mask[: max(1, spatial[0] // 4)] = True
        lab[:, mask] = -1
    return lab


def random_labels(shape):
    return rng.choice(np.array([-1, 0, 1, 2], dtype=np.float32), size=shape, p=[0.1, 0.4, 0.3, 0.2])


index = {
    "generator": "scripts/make_resample_fixtures.py",
    "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "skimage": skimage.__version__},
    "cases": [],
    "decisions": [],
}
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))


def save(name, key, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    fname = f"{name}.{key}.npy"
    np.save(os.path.join(OUT, fname), arr)
    return {"file": fname, "shape": list(arr.shape)}


def direct(name, data, new_shape, is_seg, axis, order, order_z=0, note=""):
    """A resample_data_or_seg case."""
    out = resample_channels(data, new_shape, is_seg, axis, order, order_z)
    index["cases"].append({
        "name": name, "kind": "resample_data_or_seg", "note": note,
        "input": save(name, "in", data), "new_shape": [int(v) for v in new_shape],
        "is_seg": is_seg, "order": order, "order_z": order_z, "separate_z_axis": axis,
        "expected": save(name, "out", out),
    })


def via_patient(name, data, seg, original_spacing, target_spacing, note="", **opts):
    """A resample_patient case (opts use v1's keyword names)."""
    d, s, shape, axis = patient(data, seg, original_spacing, target_spacing, **opts)
    entry = {
        "name": name, "kind": "resample_patient", "note": note,
        "original_spacing": list(original_spacing), "target_spacing": list(target_spacing),
        "options": opts, "expected_shape": shape, "expected_separate_z_axis": axis,
    }
    ref = data if data is not None else seg
    entry["data_shape"] = list(ref.shape)
    if data is not None:
        entry["data"] = save(name, "data", data)
        entry["expected_data"] = save(name, "data_out", d)
    if seg is not None:
        entry["seg"] = save(name, "seg", seg)
        entry["expected_seg"] = save(name, "seg_out", s)
    index["cases"].append(entry)


# Joint 3-D cubic resizes (no separate z), non-integer factors.
direct("cubic_up", noise((2, 7, 9, 11)), (11, 14, 17), False, None, 3, note="white noise, every axis up")
direct("cubic_down", smooth((1, 19, 17, 23)), (12, 10, 13), False, None, 3, note="smooth, every axis down")
direct("cubic_mixed", noise((1, 12, 10, 16), 50, 1000), (12, 15, 9), False, None, 3,
       note="z unchanged, y up, x down")
direct("cubic_medium", smooth((1, 24, 40, 36), 2.0), (31, 29, 50), False, None, 3, note="larger smooth volume")
direct("linear_data", noise((1, 9, 8, 10)), (13, 5, 10), False, None, 1, note="order 1 data")
direct("nearest_data", noise((1, 9, 8, 10)), (4, 13, 7), False, None, 0, note="order 0 data")
direct("quintic_data", smooth((1, 8, 9, 7)), (11, 6, 10), False, None, 5, note="order 5, prefilter with two poles")
direct("quadratic_data", noise((1, 6, 9, 7)), (9, 5, 11), False, None, 2, note="order 2 (even order)")
# Tiny axes: lengths 1 to 3 exercise the padded prefilter and the edge taps.
direct("tiny_1_2_3", noise((1, 1, 2, 3)), (3, 5, 2), False, None, 3)
direct("tiny_3_2_1", noise((1, 3, 2, 1)), (1, 4, 3), False, None, 3)
direct("tiny_2_3_1", noise((2, 2, 3, 1)), (2, 7, 1), False, None, 3, note="x stays at 1")
direct("tiny_to_one", noise((1, 5, 3, 4)), (1, 1, 1), False, None, 3, note="everything to a single voxel")
# 2-D slices (z = 1), as for nnU-Net's 2-D configuration.
direct("slice2d_data", smooth((1, 1, 30, 25)), (1, 41, 19), False, None, 3)
direct("slice2d_seg", labels((1, 1, 30, 25)), (1, 41, 19), True, None, 1)
# Segmentations, joint resizes.
direct("seg_linear_up", labels((1, 9, 11, 10)), (14, 16, 13), True, None, 1)
direct("seg_linear_down", labels((1, 17, 15, 19), sigma=2.0), (11, 9, 12), True, None, 1)
direct("seg_linear_random", random_labels((1, 8, 9, 7)), (11, 6, 10), True, None, 1,
       note="label noise: almost every voxel mixes labels")
direct("seg_ties", random_labels((1, 8, 10, 12)), (4, 5, 6), True, None, 1,
       note="halving every axis puts samples exactly between voxels: mask values tie at 0.5")
direct("seg_nearest", random_labels((1, 7, 9, 8)), (10, 5, 13), True, None, 0)
direct("seg_cubic", labels((1, 8, 9, 10)), (12, 7, 13), True, None, 3, note="per-label cubic")
# Separate z (resample_data_or_seg with an axis).
direct("sepz_data_axis0", smooth((1, 6, 20, 18)), (15, 17, 23), False, 0, 3)
direct("sepz_seg_axis0", labels((1, 6, 20, 18)), (15, 17, 23), True, 0, 1)
direct("sepz_data_axis1_orderz1", noise((1, 9, 5, 11)), (7, 12, 13), False, 1, 3, order_z=1)
direct("sepz_seg_axis2_orderz1", labels((1, 10, 9, 4)), (13, 7, 9), True, 2, 1, order_z=1,
       note="labels along the low-resolution axis by rounded linear mask, > 0.5")
direct("sepz_data_orderz3", smooth((1, 5, 8, 9)), (9, 8, 9), False, 0, 3, order_z=3,
       note="cubic along z: SciPy prefilters all three axes of the stack, we only z")

# Whole resample_patient cases.
via_patient("patient_aniso_z", smooth((1, 6, 20, 18)), labels((1, 6, 20, 18)),
            (4.0, 0.9, 0.85), (1.5, 1.0, 1.0), order_data=3, order_seg=1, force=None,
            note="original spacing anisotropic: separate z along axis 0, v1 preprocessor orders")
via_patient("patient_aniso_x", noise((2, 12, 11, 5)), random_labels((1, 12, 11, 5)),
            (0.8, 0.9, 3.5), (1.0, 1.0, 2.0), order_data=3, order_seg=1, force=None,
            note="low-resolution axis is x (2), two data channels")
via_patient("patient_aniso_target", smooth((1, 14, 12, 10)), labels((1, 14, 12, 10)),
            (1.0, 1.0, 1.0), (3.5, 0.8, 1.1), order_data=3, order_seg=1, force=None,
            note="only the target spacing is anisotropic: its low-resolution axis is used")
via_patient("patient_isotropic", smooth((1, 10, 12, 11)), labels((1, 10, 12, 11)),
            (1.2, 0.9, 0.9), (1.0, 1.0, 1.0), order_data=3, order_seg=1, force=None,
            note="ratio 1.33: one joint cubic resize")
via_patient("patient_two_lowres_axes", smooth((1, 30, 6, 7)), labels((1, 30, 6, 7)),
            (0.24, 1.25, 1.25), (0.5, 1.0, 1.0), order_data=3, order_seg=1, force=None,
            note="two axes share the largest spacing: no separate z although anisotropic")
via_patient("patient_forced_orderz1", noise((1, 7, 9, 8)), random_labels((1, 7, 9, 8)),
            (2.0, 1.0, 1.0), (1.3, 0.7, 1.2), order_data=3, order_seg=1, force=True,
            order_z_data=1, order_z_seg=1, note="forced separate z with linear order along z")
via_patient("patient_z_kept", smooth((1, 5, 16, 14)), labels((1, 5, 16, 14)),
            (5.0, 0.7, 0.7), (5.0, 0.85, 0.85), order_data=3, order_seg=1, force=None,
            note="separate z but z keeps its size (v1's 2-D preprocessing of anisotropic data)")
via_patient("patient_default_options", smooth((1, 6, 10, 9)), labels((1, 6, 10, 9)),
            (4.0, 1.0, 1.0), (2.0, 0.75, 1.5), note="resample_patient's own defaults: force False, seg order 0")
via_patient("patient_seg_only", None, labels((1, 6, 10, 9)), (4.0, 1.0, 1.0), (2.0, 0.75, 1.5),
            order_seg=1, force=None)
via_patient("patient_unchanged", smooth((1, 4, 5, 6)), labels((1, 4, 5, 6)), (1.0, 2.0, 3.0), (1.0, 2.0, 3.0),
            order_seg=1, force=None, note="same spacing: arrays returned unchanged")

# New-shape rounding and the separate-z decision, no arrays.
for shape, orig, target, force in [
    ([5, 5, 5], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], None),  # 2.5 rounds half to even: 2
    ([7, 3, 9], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], None),  # 3.5 -> 4, 1.5 -> 2, 4.5 -> 4
    ([27, 90, 93], [2.5, 0.9, 0.9], [2.5, 0.85, 0.85], None),
    ([14, 122, 122], [5.0, 0.7, 0.7], [2.5, 0.85, 0.85], None),
    ([20, 20, 20], [3.1, 1.0, 1.0], [1.0, 1.0, 1.0], None),  # ratio 3.1 > 3
    ([20, 20, 20], [3.0, 1.0, 1.0], [1.0, 1.0, 1.0], None),  # ratio exactly 3 is not > 3
    ([20, 20, 20], [3.0, 1.0, 1.0], [1.0, 1.0, 1.0], True),
    ([20, 20, 20], [5.0, 1.0, 1.0], [1.0, 1.0, 1.0], False),
    ([20, 20, 20], [1.0, 1.0, 1.0], [1.0, 1.0, 4.0], None),
    ([20, 20, 20], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], True),  # all axes share the max: no separate z
    ([20, 20, 20], [0.24, 1.25, 1.25], [1.0, 1.0, 1.0], None),
    ([33, 17, 41], [0.7, 3.3, 0.7], [1.1, 1.1, 1.1], None),
]:
    index["decisions"].append({
        "shape": shape, "original_spacing": orig, "target_spacing": target, "force_separate_z": force,
        "new_shape": new_shape_for(shape, orig, target),
        "separate_z_axis": separate_axis(orig, target, force, ANISO_THRESHOLD),
        "anisotropic_original": anisotropic(orig, ANISO_THRESHOLD),
        "lowres_axes_original": lowres_axes(orig),
    })

with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump(index, f, indent=1)
total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
print(f"wrote {len(index['cases'])} cases, {total / 1024:.0f} KiB, to {os.path.normpath(OUT)}")
