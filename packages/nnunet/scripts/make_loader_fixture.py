# Fixture generator: runs nnU-Net v1 itself (tag nnunetv1 + batchgenerators 0.25 sources on PYTHONPATH,
# with stub SimpleITK/medpy modules) to record the expected values used by the data-loader tests.
# Usage: PYTHONPATH=/path/to/nnunetv1:/path/to/stubs /usr/bin/python3 make_loader_fixture.py
# Runs nnU-Net v1's own DataLoader3D / DataLoader2D (nnunetv1 tag, batchgenerators) on a small
# synthetic preprocessed folder and prints the keys and sha256 of every batch for given seeds.
import hashlib, json, os, sys
import numpy as np
from nnunet.training.dataloading.dataset_loading import DataLoader3D, DataLoader2D

C = 2
CASES = [('case_a', (10, 12, 14), 'two'), ('case_b', (5, 20, 8), 'one'),
         ('case_c', (8, 8, 8), 'none'), ('case_d', (12, 16, 10), 'corner')]

def make(folder):
    ds = {}
    for k, (key, shp, kind) in enumerate(CASES):
        z, y, x = np.meshgrid(*[np.arange(s) for s in shp], indexing='ij')
        arr = np.zeros((C + 1,) + shp, np.float32)
        for c in range(C):
            arr[c] = k * 100000 + c * 10000 + z * 400 + y * 20 + x + 1
        seg = np.zeros(shp, np.float32)
        if kind == 'two':
            seg[(z >= 2) & (z < 5) & (y >= 3) & (y < 6) & (x >= 4) & (x < 8)] = 1
            seg[(z >= 6) & (z < 9) & (y >= 8) & (y < 11) & (x >= 9) & (x < 13)] = 2
            seg[(z == 0) & (y == 0)] = -1
        elif kind == 'one':
            seg[(y >= 15) & (y < 18) & (x >= 1) & (x < 3)] = 1
            seg[x == 7] = -1
        elif kind == 'none':
            seg[x == 0] = -1
        else:
            seg[11, 15, 9] = 2
        arr[C] = seg
        np.save(os.path.join(folder, key + '.npy'), arr)
        locs = {c: np.argwhere(seg == c) for c in (1, 2)}
        ds[key] = {'data_file': os.path.join(folder, key + '.npz'),
                   'properties': {'class_locations': {c: (v if len(v) else []) for c, v in locs.items()}}}
    return ds

def h(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float32).tobytes()).hexdigest()[:16]

folder = sys.argv[1]
ds = make(folder)
out = {}
configs = {
    '3d_train': lambda: DataLoader3D(ds, (9, 10, 11), (6, 9, 8), 6, False, oversample_foreground_percent=0.33,
                                     pad_mode='constant', pad_sides=None, memmap_mode='r'),
    '3d_val': lambda: DataLoader3D(ds, (6, 9, 8), (6, 9, 8), 6, False, oversample_foreground_percent=0.33,
                                   pad_mode='constant', pad_sides=None, memmap_mode='r'),
    '2d_train': lambda: DataLoader2D(ds, (13, 11), (10, 9), 6, oversample_foreground_percent=0.33,
                                     pad_mode='constant', pad_sides=None, memmap_mode='r'),
}
for name, mk in configs.items():
    for seed in (1234, 7):
        dl = mk()
        np.random.seed(seed)
        res = []
        for _ in range(4):
            b = dl.generate_train_batch()
            res.append(' '.join([str(k)[-1] for k in b['keys']]) + ' ' + h(b['data']) + ' ' + h(b['seg']))
        out[f'{name}/{seed}'] = res
        shapes = (b['data'].shape, b['seg'].shape)
    print(name, shapes, file=sys.stderr)
for k, v in out.items():
    print(f"  '{k}': {json.dumps(v)},".replace('"', "'"))
