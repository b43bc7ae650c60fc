#!/usr/bin/python3
"""Benchmark helper: an independent re-statement of nnU-Net v1's preprocessing step.

This is NOT nnU-Net code. It restates, in its own words and from the published algorithm,
what nnU-Net v1 (1.7) does per case in GenericPreprocessor / PreprocessorFor2D when
nnUNet_plan_and_preprocess preprocesses a plans stage, so that our TypeScript implementation can
be timed against the same work done the way v1 does it (NumPy / SciPy / scikit-image, one
multiprocessing.Pool per stage). Needs only NumPy, SciPy and scikit-image (Debian: python3-numpy
python3-scipy python3-skimage); SimpleITK and nnU-Net are not used.

Per case, as v1 does it:
  1. load the cropped case from CASE.npz (np.load(...)['data'], channels then segmentation) and
     its properties from CASE.pkl;
  2. permute the spatial axes by the plans' transpose_forward;
  3. 3-D (GenericPreprocessor): NaN voxels become 0; 2-D (PreprocessorFor2D): the target keeps the
     case's own spacing along the first axis;
  4. resample to the target spacing only when the shape changes: images with
     skimage.transform.resize(order=3, mode='edge', anti_aliasing=False), the segmentation one
     label at a time with order 1 (>= 0.5 wins); strongly anisotropic data (spacing ratio > 3) is
     resized slice by slice in-plane and with nearest neighbour across slices;
  5. segmentation values below -1 become 0;
  6. normalise each modality: CT (clip to the foreground 0.5/99.5 percentiles, subtract the
     foreground mean, divide by its sd), nonCT (z-score of the image, or of the nonzero mask),
     noNorm;
  7. stack images and segmentation as float32, sample up to 10000 (at least 1 %) voxel locations
     per foreground class with one RandomState(1234) shared by the classes in order;
  8. write CASE.npz with np.savez_compressed and CASE.pkl with pickle.

Commands:
  convert  --cropped DIR --out DIR --workers N
      our cropped CASE.npy + CASE.json -> v1's cropped CASE.npz + CASE.pkl (untimed set-up)
  run      --cropped DIR --gt DIR --out DIR --workers N --plans P.json [P2.json ...]
           [--compare-with PREPROCESSED_TASK_DIR] [--result FILE]
      the timed preprocessing of every stage of every plans file; prints and writes the figures
"""

import argparse
import json
import os
import pickle
import resource
import shutil
import sys
import threading
import time
from multiprocessing import Pool

import numpy as np

SAMPLES_PER_CLASS = 10000
MIN_COVERAGE = 0.01
SEED = 1234
ANISOTROPY_THRESHOLD = 3


# ----------------------------------------------------------------------------- set-up (untimed)

def _convert_one(job):
    src, dst, case = job
    arr = np.load(os.path.join(src, case + ".npy"))
    with open(os.path.join(src, case + ".json")) as f:
        props = json.load(f)
    # v1 keeps these as NumPy arrays / tuples in its pickles.
    for key in ("original_size_of_raw_data", "original_spacing", "classes"):
        props[key] = np.array(props[key])
    for key in ("itk_origin", "itk_spacing", "itk_direction", "size_after_cropping"):
        props[key] = tuple(props[key])
    np.savez_compressed(os.path.join(dst, case + ".npz"), data=arr)
    with open(os.path.join(dst, case + ".pkl"), "wb") as f:
        pickle.dump(props, f)


def convert(args):
    cases = sorted(f[:-4] for f in os.listdir(args.cropped) if f.endswith(".npy"))
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    with Pool(args.workers) as pool:
        pool.map(_convert_one, [(args.cropped, args.out, c) for c in cases])
    print("  convert to .npz/.pkl  %7.2f s  (untimed set-up, %d cases)" % (time.perf_counter() - t0, len(cases)))


# ----------------------------------------------------------------------------- resampling

def _lowres_axis(spacing):
    """Indices of the axes with the largest spacing."""
    spacing = np.asarray(spacing, dtype=float)
    return np.flatnonzero(spacing == spacing.max())


def _anisotropic(spacing):
    spacing = np.asarray(spacing, dtype=float)
    return spacing.max() / spacing.min() > ANISOTROPY_THRESHOLD


def _resize_image(img, shape, order):
    from skimage.transform import resize

    return resize(img, shape, order=order, mode="edge", cval=0, anti_aliasing=False)


def _resize_labels(seg, shape, order):
    """Label map resize: every label is resized as a 0/1 mask; where it reaches 0.5 it is written."""
    from skimage.transform import resize

    out = np.zeros(shape, dtype=seg.dtype)
    for label in np.unique(seg):
        mask = resize((seg == label).astype(float), shape, order=order, mode="edge", clip=True, anti_aliasing=False)
        out[mask >= 0.5] = label
    return out


def _nearest_across(vol, new_shape):
    """Nearest-neighbour resize of a 3-D volume (only the slice axis still differs)."""
    from scipy.ndimage import map_coordinates

    old = np.array(vol.shape, dtype=float)
    grids = np.meshgrid(*[np.arange(s, dtype=float) for s in new_shape], indexing="ij")
    coords = np.stack([(old[d] / new_shape[d]) * (grids[d] + 0.5) - 0.5 for d in range(3)])
    return map_coordinates(vol, coords, order=0, mode="nearest")


def _resample_channels(arr, new_shape, is_seg, axis):
    """arr: (C, z, y, x); axis: the slice axis for separate-z resampling, or None."""
    dtype = arr.dtype
    arr = arr.astype(float)
    order = 1 if is_seg else 3
    resize2 = _resize_labels if is_seg else _resize_image
    out = []
    for ch in arr:
        if axis is None:
            out.append(resize2(ch, tuple(new_shape), order))
            continue
        inplane = tuple(int(s) for d, s in enumerate(new_shape) if d != axis)
        slices = [resize2(np.take(ch, i, axis=axis), inplane, order) for i in range(ch.shape[axis])]
        vol = np.stack(slices, axis=axis)
        if vol.shape[axis] != new_shape[axis]:
            vol = _nearest_across(vol, new_shape)
        out.append(vol)
    return np.stack(out).astype(dtype)


def resample_case(data, seg, spacing, target):
    shape = np.array(data.shape[1:])
    new_shape = np.round(np.asarray(spacing, float) / np.asarray(target, float) * shape).astype(int)
    if np.all(new_shape == shape):
        return data, seg  # v1 leaves the arrays untouched ("no resampling necessary")
    axis = None
    if _anisotropic(spacing):
        axis = _lowres_axis(spacing)
    elif _anisotropic(target):
        axis = _lowres_axis(target)
    # Two or three equally coarse axes: no single slice axis, so resample in 3-D.
    axis = int(axis[0]) if axis is not None and len(axis) == 1 else None
    return _resample_channels(data, new_shape, False, axis), _resample_channels(seg, new_shape, True, axis)


# ----------------------------------------------------------------------------- one case

def _normalise(data, seg, schemes, use_mask, intensities):
    for c in range(data.shape[0]):
        scheme = schemes[c]
        if scheme == "CT":
            props = intensities[str(c)]
            lo, hi = props["percentile_00_5"], props["percentile_99_5"]
            data[c] = (np.clip(data[c], lo, hi) - props["mean"]) / props["sd"]
            if use_mask[c]:
                data[c][seg[-1] < 0] = 0
        elif scheme == "nonCT":
            if use_mask[c]:
                inside = seg[-1] >= 0
                values = data[c][inside]
                data[c][inside] = (values - values.mean()) / (values.std() + 1e-8)
                data[c][~inside] = 0
            else:
                data[c] = (data[c] - data[c].mean()) / (data[c].std() + 1e-8)
        elif scheme != "noNorm":
            raise ValueError("unknown normalisation scheme %r" % scheme)


def _class_locations(seg, classes):
    rng = np.random.RandomState(SEED)
    found = {}
    for c in classes:
        where = np.argwhere(seg == c)
        if len(where) == 0:
            found[c] = []
            continue
        k = max(min(SAMPLES_PER_CLASS, len(where)), int(np.ceil(len(where) * MIN_COVERAGE)))
        found[c] = where[rng.choice(len(where), k, replace=False)]
    return found


def preprocess_one(job):
    src, dst, case, st = job
    stored = np.load(os.path.join(src, case + ".npz"))["data"]
    data = stored[:-1].astype(np.float32)
    seg = stored[-1:]
    with open(os.path.join(src, case + ".pkl"), "rb") as f:
        props = pickle.load(f)

    axes = (0,) + tuple(a + 1 for a in st["transpose"])
    data = data.transpose(axes)
    seg = seg.transpose(axes)
    spacing = np.asarray(props["original_spacing"])[st["transpose"]]
    target = np.array(st["target_spacing"], dtype=float)
    if st["preprocessor"] == "PreprocessorFor2D":
        target[0] = spacing[0]
    else:
        data[np.isnan(data)] = 0

    data, seg = resample_case(data, seg, spacing, target)
    seg[seg < -1] = 0
    props["size_after_resampling"] = data[0].shape
    props["spacing_after_resampling"] = target
    _normalise(data, seg, st["schemes"], st["use_mask"], st["intensities"])

    stacked = np.concatenate((data, seg)).astype(np.float32)
    props["class_locations"] = _class_locations(stacked[-1], st["classes"])
    np.savez_compressed(os.path.join(dst, case + ".npz"), data=stacked)
    with open(os.path.join(dst, case + ".pkl"), "wb") as f:
        pickle.dump(props, f)


# ----------------------------------------------------------------------------- memory

PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss_bytes(root):
    """RSS of `root` and all its descendants, from /proc."""
    parent, rss = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(name)
        parent[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(q for q, pp in parent.items() if pp == p)
    return total


class TreeSampler(threading.Thread):
    def __init__(self, interval=0.02):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop = interval, 0, threading.Event()

    def run(self):
        me = os.getpid()
        while not self.stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(me))
            self.stop.wait(self.interval)


# ----------------------------------------------------------------------------- timed run

def _stage_settings(plans, key):
    modalities = len(plans["modalities"])
    props = plans["dataset_properties"]
    return {
        "preprocessor": plans["preprocessor_name"],
        "transpose": list(plans["transpose_forward"]),
        "target_spacing": list(plans["plans_per_stage"][key]["current_spacing"]),
        "schemes": [plans["normalization_schemes"][str(m)] for m in range(modalities)],
        "use_mask": [bool(plans["use_mask_for_norm"][str(m)]) for m in range(modalities)],
        "intensities": props.get("intensityproperties"),
        "classes": list(plans["all_classes"]),
    }


def _compare(ours_dir, v1_dir, cases):
    """Our CASE.npy/.json against this script's CASE.npz/.pkl: max |diff| and class locations."""
    worst, same = 0.0, 0
    for case in cases:
        ours = np.load(os.path.join(ours_dir, case + ".npy"))
        theirs = np.load(os.path.join(v1_dir, case + ".npz"))["data"]
        if ours.shape != theirs.shape:
            worst = float("inf")
            continue
        worst = max(worst, float(np.max(np.abs(ours.astype(np.float64) - theirs))))
        with open(os.path.join(ours_dir, case + ".json")) as f:
            ours_locs = json.load(f)["class_locations"]
        with open(os.path.join(v1_dir, case + ".pkl"), "rb") as f:
            v1_locs = pickle.load(f)["class_locations"]
        if all(np.array_equal(np.asarray(ours_locs[str(c)]).reshape(-1, 3), np.asarray(v).reshape(-1, 3))
               for c, v in v1_locs.items()):
            same += 1
    return worst, same


def run(args):
    cases = sorted(f[:-4] for f in os.listdir(args.cropped) if f.endswith(".npz"))
    all_plans = []
    for path in args.plans:
        with open(path) as f:
            all_plans.append(json.load(f))
    os.makedirs(args.out, exist_ok=True)

    sampler = TreeSampler()
    sampler.start()
    per_plan, stages_run = {}, []
    t0 = time.perf_counter()
    for path, plans in zip(args.plans, all_plans):
        t_plan = time.perf_counter()
        gt = os.path.join(args.out, "gt_segmentations")
        shutil.rmtree(gt, ignore_errors=True)
        shutil.copytree(args.gt, gt)
        for key in sorted(plans["plans_per_stage"], key=int):
            st = _stage_settings(plans, key)
            folder = "%s_stage%s" % (plans["data_identifier"], key)
            dst = os.path.join(args.out, folder)
            os.makedirs(dst, exist_ok=True)
            with Pool(args.workers) as pool:
                pool.map(preprocess_one, [(args.cropped, dst, c, st) for c in cases])
            stages_run.append(folder)
        per_plan[os.path.basename(path)] = time.perf_counter() - t_plan
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()

    self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stage_jobs = len(cases) * len(stages_run)
    print("  preprocessing  %8.2f s  %8.1f cases/s  (%d case-stage jobs, %.1f/s)"
          % (seconds, len(cases) / seconds, stage_jobs, stage_jobs / seconds))
    print("  peak RSS: RUSAGE_SELF %.0f + RUSAGE_CHILDREN %.0f = %.0f MiB; sampled process tree %.0f MiB"
          % (self_kib / 1024, children_kib / 1024, (self_kib + children_kib) / 1024, sampler.peak / 2**20))

    check = {"stages": 0, "cases_checked": 0, "max_abs_diff": 0.0, "class_locations_equal": 0}
    if args.compare_with:
        for folder in stages_run:
            ours = os.path.join(args.compare_with, folder)
            if not os.path.isdir(ours):
                continue
            worst, same = _compare(ours, os.path.join(args.out, folder), cases)
            check["stages"] += 1
            check["cases_checked"] += len(cases)
            check["max_abs_diff"] = max(check["max_abs_diff"], worst)
            check["class_locations_equal"] += same

    import scipy
    import skimage

    result = {
        "seconds": seconds,
        "cases": len(cases),
        "stage_jobs": stage_jobs,
        "workers": args.workers,
        "per_plan_seconds": per_plan,
        "rusage_self_maxrss_mib": self_kib / 1024,
        "rusage_children_maxrss_mib": children_kib / 1024,
        "peak_rss_mib": (self_kib + children_kib) / 1024,
        "sampled_tree_peak_rss_mib": sampler.peak / 2**20,
        "check": check,
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__,
                     "skimage": skimage.__version__},
    }
    if args.result:
        with open(args.result, "w") as f:
            json.dump(result, f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert")
    c.add_argument("--cropped", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--workers", type=int, default=os.cpu_count())
    r = sub.add_parser("run")
    r.add_argument("--cropped", required=True)
    r.add_argument("--gt", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--workers", type=int, default=os.cpu_count())
    r.add_argument("--plans", nargs="+", required=True)
    r.add_argument("--compare-with")
    r.add_argument("--result")
    args = parser.parse_args()
    convert(args) if args.command == "convert" else run(args)


if __name__ == "__main__":
    main()
