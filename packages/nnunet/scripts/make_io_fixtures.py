#!/usr/bin/python3
"""Image I/O fixtures written by nibabel, independent of the reader under test.

Run with Debian's python3-nibabel:  /usr/bin/python3 packages/nnunet/scripts/make_io_fixtures.py
Writes test/fixtures/io/*.nii(.gz) and expected.json with, for each file, the geometry in
SimpleITK's convention (LPS; spacing and origin x, y, z; direction row-major 3x3) and the voxel
values in array order (z, y, x), C order.
"""
import json
import os

import nibabel as nib
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "io")
LPS = np.diag([-1.0, -1.0, 1.0])


def rotation(ax, ay, az):
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def itk_geometry(affine):
    m = affine[:3, :3]
    spacing = np.linalg.norm(m, axis=0)
    direction = LPS @ (m / spacing)
    origin = LPS @ affine[:3, 3]
    return spacing.tolist(), origin.tolist(), direction.reshape(-1).tolist()


def save(name, data_xyz, affine):
    img = nib.Nifti1Image(data_xyz, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, os.path.join(OUT, name))
    spacing, origin, direction = itk_geometry(affine)
    zyx = np.ascontiguousarray(data_xyz.transpose(tuple(range(data_xyz.ndim))[::-1]))
    return {
        "dtype": str(data_xyz.dtype),
        "shape_zyx": list(zyx.shape),
        "spacing": spacing,
        "origin": origin,
        "direction": direction,
        "values": zyx.ravel().tolist(),
    }


os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(0)
expected = {}

oblique = np.eye(4)
oblique[:3, :3] = rotation(0.3, -0.2, 0.9) @ np.diag([0.7, 0.9, 2.5])
oblique[:3, 3] = [-12.5, 30.25, 7.0]
expected["oblique_float32.nii.gz"] = save("oblique_float32.nii.gz", rng.randn(5, 4, 3).astype(np.float32), oblique)
expected["oblique_float32.nii"] = save("oblique_float32.nii", rng.randn(5, 4, 3).astype(np.float32), oblique)

plain = np.diag([1.5, 0.8, 3.0, 1.0])
plain[:3, 3] = [1.0, -2.0, 3.0]
ranges = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-32768, 32767), "uint16": (0, 65535),
          "int32": (-2 ** 31, 2 ** 31 - 1), "uint32": (0, 2 ** 32 - 1)}
for dt, (lo, hi) in ranges.items():
    data = rng.randint(lo, hi, size=(4, 3, 2), dtype=np.int64).astype(dt)
    data.flat[0], data.flat[1] = lo, hi
    expected[f"{dt}.nii.gz"] = save(f"{dt}.nii.gz", data, plain)
expected["float64.nii.gz"] = save("float64.nii.gz", (rng.randn(4, 3, 2) * 1e6).astype(np.float64), plain)

# Four-dimensional, as the Medical Segmentation Decathlon stores multi-modal images (x, y, z, modality).
four = np.diag([0.5, 0.5, 2.0, 1.0])
four[:3, 3] = [10.0, 20.0, -30.0]
data4 = rng.randn(4, 3, 2, 2).astype(np.float32)
img4 = nib.Nifti1Image(data4, four)
img4.set_qform(four, code=1)
img4.set_sform(four, code=1)
nib.save(img4, os.path.join(OUT, "four_d.nii.gz"))
spacing, origin, direction = itk_geometry(four)
expected["four_d.nii.gz"] = {
    "dtype": "float32",
    "shape_zyx": [2, 2, 3, 4],
    "spacing": spacing,
    "origin": origin,
    "direction": direction,
    "values": np.ascontiguousarray(data4.transpose(3, 2, 1, 0)).ravel().tolist(),
}

# Non-finite voxels (itk-wasm's reader zeroes them; ours must keep them). Values listed as strings.
special = np.array([np.nan, np.inf, -np.inf, 1.5, -2.0, 0.0], dtype=np.float32).reshape(3, 2, 1)
nib.save(nib.Nifti1Image(special, plain), os.path.join(OUT, "nonfinite_float32.nii.gz"))
nonfinite = {"shape_zyx": [1, 2, 3], "values": [str(v) for v in special.transpose(2, 1, 0).ravel().tolist()]}

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({**expected, "nonfinite_float32.nii.gz": nonfinite}, f)
print(f"wrote {len(expected)} images to {os.path.normpath(OUT)}")
