#!/usr/bin/python3
"""Expected ensembles of nnU-Net v1's own test-set predictions (test/fixtures/ensemble).

    /usr/bin/python3 packages/nnunet/scripts/make_ensemble_fixtures.py

Inputs are the CASE.npz files that v1's nnUNet_predict -z wrote for Task906_Tiny
(test/fixtures/v1_models/pred_*), float16 softmax padded to the uncropped image. The expected
ensemble follows v1's merge arithmetic: np.mean over the stacked float16 arrays (float32 sum,
float16 result), argmax over the classes (first class on ties), uint8. Outside the crop box every
softmax is 0, so the argmax there is 0, the value v1 pastes around the crop box. (v1 since 2023
saves the softmax uncropped but still resamples it to the cropped size when ensembling a cropped
case such as tiny_101; the expected arrays here are the unresampled ensemble.)

The averaged softmax that nnUNet_ensemble --npz stores is np.mean itself, on the uncropped grid
(zeros outside the crop box), as v1's merge_files saves it; it is kept for tiny_101, the cropped
case, so that the test also covers the crop box.

Needs only numpy. Writes CASE.<members>.npy (uint8, z y x) and, for tiny_101, the averaged softmax
as float32 (exact float16 values) plus index.json.
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
V1 = os.path.join(HERE, "..", "test", "fixtures", "v1_models")
OUT = os.path.join(HERE, "..", "test", "fixtures", "ensemble")
CASES = ["tiny_100", "tiny_101", "tiny_102", "tiny_103"]
# The cropped case (crop_bbox narrower than the image): its stored softmax has zeros around the box.
NPZ_CASE = "tiny_101"
ENSEMBLES = {
    "2d_3d": ["pred_2d_notta", "pred_3d_fullres_notta"],
    "all4": ["pred_2d_notta", "pred_3d_fullres_notta", "pred_2d_tta", "pred_3d_fullres_tta"],
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, members in ENSEMBLES.items():
        for case in CASES:
            stack = np.vstack([np.load(os.path.join(V1, m, case + ".npz"))["softmax"][None] for m in members])
            mean = np.mean(stack, 0)
            assert mean.dtype == np.float16
            np.save(os.path.join(OUT, "%s.%s.npy" % (case, name)), mean.argmax(0).astype(np.uint8))
            if case == NPZ_CASE and name == "2d_3d":
                np.save(os.path.join(OUT, "%s.%s.softmax.npy" % (case, name)), mean.astype(np.float32))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"cases": CASES, "ensembles": ENSEMBLES}, f, indent=1)


if __name__ == "__main__":
    main()
