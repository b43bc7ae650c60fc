"""Fixtures for the cascade augmentations (test/training/cascade-augmentation.test.ts).

Writes test/fixtures/training/cascade/morphology.json: skimage's ball footprints for a few real
radii, skimage's binary dilation / erosion / closing / opening of a small 3-D mask with those
balls, and skimage.measure.label of a mask with 26-connected components. Volumes are stored as
their shape plus their packed bits (np.packbits of the C-order flattening, base64).
"""
import base64
import json
import os

import numpy as np
import skimage
from skimage.measure import label
from skimage.morphology import ball
from skimage.morphology.binary import binary_closing, binary_dilation, binary_erosion, binary_opening

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'training', 'cascade')
os.makedirs(OUT, exist_ok=True)


def ones(a):
    """A 0/1 volume as base64 of np.packbits of its C-order flattening (first voxel = highest bit)."""
    return base64.b64encode(np.packbits(np.asarray(a).ravel() != 0).tobytes()).decode('ascii')


rs = np.random.RandomState(3)
shape = (13, 15, 16)
z, y, x = np.indices(shape)
mask = ((z - 6) ** 2 + (y - 7) ** 2 / 2 + (x - 5) ** 2 < 16)
mask |= (abs(z - 3) <= 1) & (abs(y - 11) <= 2) & (x >= 9) & (x <= 15)  # a bar touching the x border
mask |= (z == 11) & (y == 2) & (x == 13)  # a single voxel
mask |= rs.rand(*shape) < 0.02  # sparse noise
mask = mask.astype(np.uint8)

radii = [1.0, 1.5, 2.5, 3.3, 4.0]
ops = {'dilation': binary_dilation, 'erosion': binary_erosion, 'closing': binary_closing, 'opening': binary_opening}
cases = []
for r in radii:
    fp = ball(r)
    for name, f in ops.items():
        cases.append({'op': name, 'radius': r, 'set': ones(f(mask.astype(int), fp))})

balls = []
for r in [1.0, 1.2, 1.5, 2.5, 3.3, 4.0, 5.75, 7.9]:
    b = ball(r)
    balls.append({'radius': r, 'size': int(b.shape[0]), 'set': ones(b)})

lab_shape = (6, 7, 8)
lab_in = (np.random.RandomState(5).rand(*lab_shape) < 0.18).astype(np.uint8)
lab_in[0, 0, 0] = 1
lab_in[1, 1, 1] = 1  # diagonal neighbour of (0, 0, 0): one component under 26-connectivity
lab, n = label(lab_in, return_num=True)

with open(os.path.join(OUT, 'morphology.json'), 'w') as fh:
    json.dump({
        'generator': 'scripts/make_cascade_fixtures.py, skimage %s' % skimage.__version__,
        'shape': list(shape), 'input': ones(mask), 'cases': cases, 'balls': balls,
        'label': {'shape': list(lab_shape), 'input': ones(lab_in), 'labels': [int(v) for v in lab.ravel()],
                  'count': int(n)},
    }, fh, separators=(',', ':'))
print('wrote', os.path.join(OUT, 'morphology.json'))
