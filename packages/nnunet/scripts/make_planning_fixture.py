#!/usr/bin/python3
"""Expected plans for synthetic fingerprints (test/fixtures/planning/planner_cases.json).

    /usr/bin/python3 packages/nnunet/scripts/make_planning_fixture.py

INDEPENDENT RE-STATEMENT: nnU-Net is not installed or imported here. The functions below restate,
in our own words, the rules of nnU-Net v1.7.0's ExperimentPlanner3D_v21 and ExperimentPlanner2D_v21
(target spacing, transpose, topology from spacing, memory estimate, patch shrinking, batch size,
low-resolution stage), written for this fixture only. NumPy (Debian's 1.24.2) does the arithmetic
whose rounding matters (percentile, median, round half to even, argsort), in the order v1 uses.
"""
import json
import os

import numpy as np

FEATURE_EDGE_MIN = 4
POOL_CAP = 999
ANISO = 3
BATCH_FRACTION = 0.05
BASE_FEATURES = 32
CONVS = 2


def target_spacing(spacings, sizes, anisotropic_rule):
    sp = np.array(spacings, dtype=np.float64)
    target = np.percentile(sp, 50, axis=0)
    if not anisotropic_rule:
        return target
    typical_size = np.percentile(np.array(sizes), 50, axis=0)
    coarse = int(np.argmax(target))
    rest = [a for a in range(3) if a != coarse]
    finest_other = max(target[a] for a in rest)
    if target[coarse] > ANISO * finest_other and typical_size[coarse] * ANISO < min(typical_size[a] for a in rest):
        candidate = np.percentile(sp[:, coarse], 10)
        if candidate < finest_other:
            candidate = max(finest_other, candidate) + 1e-5
        target[coarse] = candidate
    return target


def topology(spacing, patch):
    n = len(spacing)
    sp = [float(s) for s in spacing]
    size = [float(p) for p in patch]
    pools_per_axis = [0] * n
    pools, convs = [], []
    while True:
        finest = min(sp)
        group = []
        for a in range(n):
            g = [b for b in range(n) if sp[b] / sp[a] < 2 and sp[a] / sp[b] < 2]
            if len(g) > len(group):
                group = g
        conv = [3 if a in group else 1 for a in range(n)]
        chosen = [a for a in range(n)
                  if sp[a] / finest < 2 and size[a] >= 2 * FEATURE_EDGE_MIN and pools_per_axis[a] < POOL_CAP]
        if not chosen:
            break
        pool = [1] * n
        for a in chosen:
            pool[a] = 2
            pools_per_axis[a] += 1
            sp[a] *= 2
            size[a] = np.ceil(size[a] / 2)
        pools.append(pool)
        convs.append(conv)
    convs.append([3] * n)
    div = [2 ** k for k in pools_per_axis]
    padded = [int(p) if p % d == 0 else int(p + d - p % d) for p, d in zip(patch, div)]
    return pools_per_axis, pools, convs, np.array(padded, dtype=np.int64), div


def vram(patch, pools, base, cap, modalities, classes):
    m = np.array(patch, dtype=np.int64)
    total = (CONVS * 2 + 1) * int(np.prod(m)) * base + modalities * int(np.prod(m)) + classes * int(np.prod(m))
    feats = base
    for level, k in enumerate(pools):
        m = np.array([int(m[a] / k[a]) for a in range(len(m))], dtype=np.int64)
        feats = min(feats * 2, cap)
        blocks = CONVS * 2 + 1 if level < len(pools) - 1 else CONVS
        total += blocks * int(np.prod(m)) * feats
    return total


def shrink(spacing, patch, div, median):
    patch = patch.copy()
    a = int(np.argsort(patch / median)[-1])
    trial = patch.copy()
    trial[a] -= div[a]
    patch[a] -= topology(spacing, trial)[4][a]
    return topology(spacing, patch)


def stage_3d(cur, orig, shape, cases, modalities, classes):
    med = np.round(orig / cur * shape).astype(np.int64)
    voxels = int(np.prod(med)) * cases
    per_mm = 1 / np.array(cur)
    per_mm = per_mm / per_mm.mean()
    per_mm = per_mm * (1 / min(per_mm) * 512)
    start = [min(int(v), int(m)) for v, m in zip(np.round(per_mm), med)]
    topo = topology(cur, start)
    budget = 520000000 * BASE_FEATURES / 30
    est = vram(topo[3], topo[1], BASE_FEATURES, 320, modalities, classes)
    while est > budget:
        topo = shrink(cur, topo[3], topo[4], med)
        est = vram(topo[3], topo[1], BASE_FEATURES, 320, modalities, classes)
    patch = topo[3]
    batch = int(np.floor(max(budget / est, 1) * 2))
    cap = max(int(np.round(BATCH_FRACTION * voxels / int(np.prod(patch)))), 2)
    return {
        "batch_size": max(1, min(batch, cap)),
        "num_pool_per_axis": topo[0],
        "patch_size": [int(v) for v in patch],
        "median_patient_size_in_voxels": [int(v) for v in med],
        "current_spacing": [float(v) for v in cur],
        "original_spacing": [float(v) for v in orig],
        "do_dummy_2D_data_aug": bool(max(patch) / patch[0] > ANISO),
        "pool_op_kernel_sizes": topo[1],
        "conv_kernel_sizes": topo[2],
    }


def stage_2d(cur, orig, shape, cases, modalities, classes):
    med = np.round(orig / cur * shape).astype(np.int64)
    voxels = int(np.prod(med)) * cases
    topo = topology(cur[1:], med[1:])
    budget = 19739648 * 50 / 2
    est = vram(topo[3], topo[1], 30, 512, modalities, classes)
    while est > budget:
        topo = shrink(cur[1:], topo[3], topo[4], med[1:])
        est = vram(topo[3], topo[1], BASE_FEATURES, 512, modalities, classes)
    patch = topo[3]
    batch = int(np.floor(budget / est) * 2)
    cap = int(np.round(BATCH_FRACTION * voxels / int(np.prod(patch))))
    return {
        "batch_size": max(1, min(batch, cap)),
        "num_pool_per_axis": topo[0],
        "patch_size": [int(v) for v in patch],
        "median_patient_size_in_voxels": [int(v) for v in med],
        "current_spacing": [float(v) for v in cur],
        "original_spacing": [float(v) for v in orig],
        "pool_op_kernel_sizes": topo[1],
        "conv_kernel_sizes": topo[2],
        "do_dummy_2D_data_aug": False,
    }


def plan(fp, three_d):
    spacings, sizes = fp["all_spacings"], fp["all_sizes"]
    cases = len(sizes)
    modalities = len(fp["modalities"])
    classes = len(fp["all_classes"]) + 1
    target = target_spacing(spacings, sizes, three_d)
    shapes = np.vstack([np.array(s) / target * np.array(z) for s, z in zip(spacings, sizes)])
    median = np.median(shapes, axis=0)
    first = int(np.argmax(target))
    fwd = [first] + [a for a in range(3) if a != first]
    bwd = [fwd.index(a) for a in range(3)]
    t_t, m_t = target[fwd], median[fwd]
    make = stage_3d if three_d else stage_2d
    stages = [make(t_t, t_t, m_t, cases, modalities, classes)]
    if three_d:
        patch_vox = int(np.prod(stages[0]["patch_size"]))
        if np.prod(median) / patch_vox >= 4:
            low = target.copy()
            vox = np.prod(median, dtype=np.float64)
            extra = None
            while vox > 4 * patch_vox:
                lag = (max(low) / low) > 2
                if lag.any():
                    low[lag] *= 1.01
                else:
                    low *= 1.01
                vox = np.prod(target / low * median, dtype=np.float64)
                extra = stage_3d(low[fwd], t_t, m_t, cases, modalities, classes)
                patch_vox = int(np.prod(extra["patch_size"]))
            if extra is not None and 2 * np.prod(extra["median_patient_size_in_voxels"]) < np.prod(
                    stages[0]["median_patient_size_in_voxels"]):
                stages.insert(0, extra)
    names = [fp["modalities"][str(i)] for i in range(modalities)]
    red = np.median(list(fp["size_reductions"].values()))
    return {
        "target_spacing": [float(v) for v in target],
        "num_stages": len(stages),
        "plans_per_stage": {str(i): s for i, s in enumerate(stages)},
        "transpose_forward": fwd,
        "transpose_backward": bwd,
        "normalization_schemes": {
            str(i): ("CT" if n in ("CT", "ct") else "noNorm" if n == "noNorm" else "nonCT") for i, n in enumerate(names)},
        "use_mask_for_norm": {str(i): bool("CT" not in n and red < 0.75) for i, n in enumerate(names)},
    }


def fingerprint(spacings, sizes, modalities=("MRI",), classes=(1,), reductions=None):
    ids = ["case_%03d" % i for i in range(len(sizes))]
    if reductions is None:
        reductions = [1.0] * len(sizes)
    return {
        "all_sizes": [list(map(int, s)) for s in sizes],
        "all_spacings": [list(map(float, s)) for s in spacings],
        "all_classes": list(classes),
        "modalities": {str(i): m for i, m in enumerate(modalities)},
        "intensityproperties": None,
        "size_reductions": dict(zip(ids, map(float, reductions))),
    }


def f32(x):
    return float(np.float32(x))


CASES = {}
# Thick slices: z spacing about 6x the in-plane one and far fewer slices -> 10th percentile along z.
z_sp = [5.0, 4.0, 6.0, 5.0, 3.0, 5.0, 8.0, 5.0, 4.5, 5.0]
CASES["thick_slices"] = fingerprint(
    [[z, f32(0.75), f32(0.75)] for z in z_sp],
    [[20 + (i * 3) % 11, 300 + (i * 7) % 23, 310 - (i * 5) % 19] for i in range(len(z_sp))])
# Same spacings but as many slices as in-plane voxels: only one of the two conditions -> median.
CASES["coarse_z_many_slices"] = fingerprint(
    [[z, f32(0.75), f32(0.75)] for z in z_sp],
    [[300 + i, 300 + (i * 7) % 23, 310 - (i * 5) % 19] for i in range(len(z_sp))])
# 10th percentile finer than in-plane: clamped to the in-plane spacing + 1e-5.
CASES["thick_slices_clamped"] = fingerprint(
    [[z, 0.8, 0.8] for z in [0.6, 0.6, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]],
    [[24, 256, 256]] * 10)
# Coarse x axis: transpose_forward puts x first.
CASES["coarse_x"] = fingerprint(
    [[f32(0.8), f32(0.8), x] for x in [4.0, 4.0, 3.6, 4.4, 4.0, 5.0]],
    [[210 + i, 190 - i, 40 + 2 * i] for i in range(6)], modalities=("CT",), classes=(1, 2, 3))
# Large isotropic cases: the patch covers less than 1/4 of the median case -> 3d_lowres stage.
CASES["large_isotropic"] = fingerprint(
    [[1.0, 1.0, 1.0]] * 9, [[280 + 5 * i, 300 - 3 * i, 290 + i] for i in range(9)], modalities=("CT",))
# Large anisotropic CT (abdomen-like): cascade with in-plane axes coarsened first.
CASES["large_abdomen"] = fingerprint(
    [[2.5, f32(0.78), f32(0.78)]] * 7 + [[5.0, f32(0.7), f32(0.7)]] * 3,
    [[180 + 4 * i, 512, 512] for i in range(10)], modalities=("CT",), classes=(1, 2))
# Equal y and x: the shrinking loop meets ties; np.argsort picks the last tied axis, which gives
# [160, 128, 112] (picking the first would give [160, 112, 128]).
CASES["tied_axes"] = fingerprint([[0.5, 0.5, 0.5]] * 4, [[207, 149, 149]] * 4)
# Medium cases: the patch covers more than 1/4 of the median case -> no low-res stage.
CASES["medium_isotropic"] = fingerprint([[1.0, 1.0, 1.0]] * 8, [[150 + i, 160 - i, 140] for i in range(8)])
# Small dataset: 60 cases of 64^3 -> the 5 % cap (round(3.0) = 3) binds the 3-D batch size.
CASES["small_cases_60"] = fingerprint([[1.0, 1.0, 1.0]] * 60, [[64, 64, 64]] * 60)
# Tiny dataset: 3 cases -> the cap falls below 2 and the 3-D minimum of 2 applies.
CASES["tiny_3_cases"] = fingerprint([[1.0, 1.0, 1.0]] * 3, [[64, 64, 64]] * 3)
# One flat case: the 2-D cap rounds to 0 and the batch becomes 1.
CASES["one_flat_case"] = fingerprint([[3.0, 1.0, 1.0]], [[4, 64, 64]])
# Big slices: the 2-D patch must shrink below the median slice (first estimate with 30 features).
CASES["big_slices"] = fingerprint(
    [[1.0, f32(0.5), f32(0.5)]] * 6, [[100, 1500 + 10 * i, 1400 - 10 * i] for i in range(6)])
# Multi-modal brain MRI with heavy cropping, plus CT and noNorm channels.
CASES["multimodal_cropped"] = fingerprint(
    [[1.0, 1.0, 1.0]] * 5, [[140, 170, 140]] * 5, modalities=("T1", "CT", "noNorm", "FLAIR"),
    classes=(1, 2, 3), reductions=[0.4, 0.5, 0.6, 0.9, 1.0])

out = {"numpy": np.__version__, "cases": []}
for name, fp in CASES.items():
    out["cases"].append({"name": name, "fingerprint": fp, "plans_3d": plan(fp, True), "plans_2d": plan(fp, False)})
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "planning",
                    "planner_cases.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
for c in out["cases"]:
    p3, p2 = c["plans_3d"], c["plans_2d"]
    print(c["name"], p3["target_spacing"], p3["transpose_forward"],
          [(s["patch_size"], s["batch_size"], s["current_spacing"]) for s in p3["plans_per_stage"].values()],
          [(s["patch_size"], s["batch_size"]) for s in p2["plans_per_stage"].values()])
