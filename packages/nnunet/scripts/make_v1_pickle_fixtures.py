#!/usr/bin/python3
"""Fixtures for the safe pickle reader, the PyTorch checkpoint reader and v1 model folders.

Writes (relative to packages/nnunet/test/fixtures):
  io/pickle/values_p{2,3,4,5}.pkl    one dict of Python and NumPy values, pickled with each protocol
  io/pickle/values.json              what the TypeScript reader's toPlain() must return for it
  io/pickle/specials.pkl             inf, -inf, nan, -0.0, 2**64 + 1, -(2**70)
  io/torch_checkpoint/small_zip.pt   torch.save of a few tensors (zip container)
  io/torch_checkpoint/small_legacy.pt the same in the legacy container
  io/torch_checkpoint/small.json     their values (C order), shapes and dtypes
  io/torch_checkpoint/small_deflated.pt small_zip.pt repacked by zipfile with deflate (torch.save never
                                     compresses; the reader must refuse it)
  io/torch_checkpoint/v1_3d_summary.json  per-tensor shape, sum and first values of the v1 3d_fullres
                                     checkpoint, plus its epoch, plot_stuff and best_stuff
  v1_models/plans_3d.json, plans_2d.json   the v1 plans.pkl of each model folder as json.dumps writes them
  v1_models/nnUNet/2d/Task906_Tiny/nnUNetTrainerV2_DP__nnUNetPlansv2.1/
                                     the 2d model as a DataParallel run stores it: state_dict keys with
                                     'module.', legacy container, no optimizer state; .model.pkl naming
                                     nnUNetTrainerV2_DP
  v1_models/variants/nnUNet/2d/Task906_Tiny/nnUNetTrainerV2_3ConvPerStage__nnUNetPlansv2.1/ and
  v1_models/variants/nnUNet/3d_cascade_fullres/Task906_Tiny/nnUNetTrainerV2CascadeFullRes__nnUNetPlansv2.1/
                                     randomly initialised v1 Generic_UNets as those trainers build them:
                                     3ConvPerStage keeps the plans' base_num_features (32) but builds
                                     3 convolutions per stage with 24 features, as its
                                     initialize_network does; the cascade (num_classes - 1 extra
                                     inputs) has plans and network at base_num_features 4 to stay small;
  v1_models/variants/logits_<cfg>.npy  their logits for the input 2 sin(0.37 i), by v1's Generic_UNet
  v1_models/variants/inputs.json     trainer and input shape per configuration
Needs the v1 model folders already copied into test/fixtures/v1_models (from
/work/shared/golden/v1_models). Run with /usr/bin/python3 (torch 1.13, numpy) and PYTHONPATH holding v1's nnunet package (branch
nnunetv1) and batchgenerators, e.g. from `git archive` of their repositories.
"""
import collections
import json
import os
import pickle
import shutil

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, '..', 'test', 'fixtures')
V1 = os.path.join(FIX, 'v1_models')
TRAINER = 'nnUNetTrainerV2__nnUNetPlansv2.1'


def plain(v):
    """The JSON-like value the TypeScript toPlain() gives (json.dumps key rules, arrays as lists)."""
    if isinstance(v, dict):
        return {json.dumps(k) if not isinstance(k, str) else k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted(plain(x) for x in v)
    if isinstance(v, (bytes, bytearray)):
        return list(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind == 'S':
            return np.vectorize(lambda b: b.decode('latin1'), otypes=[object])(v).tolist()
        return plain(v.tolist())
    if isinstance(v, np.generic):
        return v.item()
    return v


def values():
    shared = [1, 2, 3]
    return {
        'none': None, 't': True, 'f': False,
        'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**53 - 1, -2**53 + 1],
        'floats': [0.5, -1.25, 1e-300, 3.141592653589793],
        'str': 'héllo wörld ✓ 𝄞', 'empty': '', 'bytes': b'\x00\x01\xfe\xff', 'bytearray': bytearray(b'ab'),
        'tuple': (1, 'a', (2, 3)), 'tuple0': (), 'tuple1': (7,), 'list': [[], [1], [1, [2, [3]]]],
        'set': {3, 1, 2}, 'frozenset': frozenset({'a', 'b'}),
        'int_keys': {0: 'MRI', 1: 'CT'}, 'mixed_keys': {None: 1, True: 2, 2.5: 3},
        'ordered': collections.OrderedDict([('b', 1), ('a', 2)]),
        'shared': [shared, shared],
        'f8': np.array([[1.5, -2.0], [3.25, 1e-8]]), 'f4': np.array([1.1, 2.2], dtype=np.float32),
        'f2': np.array([0.1, 65504.0, -0.000061], dtype=np.float16),
        'i8': np.array([12, 14, 14]), 'i4': np.arange(6, dtype=np.int32).reshape(2, 3),
        'i2': np.array([-300, 300], dtype=np.int16), 'i1': np.array([-5], dtype=np.int8),
        'u1': np.array([0, 200], dtype=np.uint8), 'u2': np.array([60000], dtype=np.uint16),
        'u4': np.array([4000000000], dtype=np.uint32), 'b1': np.array([True, False, True]),
        'big_endian': np.array([1.0, 2.0], dtype='>f8'), 'be_i4': np.array([1, -2], dtype='>i4'),
        'fortran': np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        'zero_d': np.array(4.5), 'empty_arr': np.zeros((0, 3)),
        'unicode_arr': np.array(['tiny_000', 'a', 'ünï']), 'bytes_arr': np.array([b'ab', b'c']),
        'object_arr': np.array([1, 'x', None], dtype=object),
        'np_scalars': [np.float64(0.25), np.float32(1.5), np.int64(-7), np.int32(9), np.bool_(True),
                       np.float16(0.5), np.uint8(250)],
    }


def write_pickles():
    out = os.path.join(FIX, 'io', 'pickle')
    os.makedirs(out, exist_ok=True)
    v = values()
    for p in (2, 3, 4, 5):
        with open(os.path.join(out, 'values_p%d.pkl' % p), 'wb') as f:
            pickle.dump(v, f, protocol=p)
    with open(os.path.join(out, 'values.json'), 'w') as f:
        json.dump(plain(v), f, indent=1, sort_keys=True)
    with open(os.path.join(out, 'specials.pkl'), 'wb') as f:
        pickle.dump([float('inf'), float('-inf'), float('nan'), -0.0, 2**64 + 1, -(2**70)], f, protocol=2)


def write_torch():
    out = os.path.join(FIX, 'io', 'torch_checkpoint')
    os.makedirs(out, exist_ok=True)
    base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 8
    sd = collections.OrderedDict([
        ('w', base),
        ('w_t', base.transpose(0, 2)),  # a strided view of the same storage
        ('w_slice', base[1, :, 1:3]),  # an offset, strided view
        ('d', torch.tensor([1.5, -2.25], dtype=torch.float64)),
        ('h', torch.tensor([0.1, -3.0], dtype=torch.float16)),
        ('l', torch.tensor([[1, -2], [3, 2**40]], dtype=torch.int64)),
        ('i', torch.tensor([7], dtype=torch.int32)),
        ('b', torch.tensor([True, False])),
        ('u', torch.tensor([0, 255], dtype=torch.uint8)),
        ('scalar', torch.tensor(3.5)),
    ])
    obj = {'epoch': 7, 'state_dict': sd, 'plot_stuff': ([0.5, 0.25], [], [0.125]), 'amp_grad_scaler': {}}
    torch.save(obj, os.path.join(out, 'small_zip.pt'))
    torch.save(obj, os.path.join(out, 'small_legacy.pt'), _use_new_zipfile_serialization=False)

    def describe(t):
        t = t.contiguous()
        vals = t.float().flatten().tolist() if t.dtype in (torch.float16,) else t.flatten().tolist()
        if t.dtype == torch.bool:
            vals = [int(x) for x in vals]
        return {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape), 'values': vals}

    with open(os.path.join(out, 'small.json'), 'w') as f:
        json.dump({'epoch': 7, 'tensors': {k: describe(t) for k, t in sd.items()}}, f, indent=1)

    ck = torch.load(os.path.join(V1, 'nnUNet', '3d_fullres', 'Task906_Tiny', TRAINER, 'fold_0',
                                 'model_final_checkpoint.model'), map_location='cpu')
    summary = {
        'epoch': ck['epoch'],
        'keys': list(ck.keys()),
        'plot_stuff': plain(ck['plot_stuff']),
        'best_stuff': plain(ck['best_stuff']),
        'tensors': [{'name': k, 'shape': list(t.shape), 'sum': float(t.double().sum()),
                     'first': t.flatten()[:6].tolist()} for k, t in ck['state_dict'].items()],
    }
    with open(os.path.join(out, 'v1_3d_summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)


def write_deflated():
    import zipfile
    out = os.path.join(FIX, 'io', 'torch_checkpoint')
    with zipfile.ZipFile(os.path.join(out, 'small_zip.pt')) as src, \
            zipfile.ZipFile(os.path.join(out, 'small_deflated.pt'), 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))


def write_v1_extras():
    for cfg, name in (('3d_fullres', 'plans_3d.json'), ('2d', 'plans_2d.json')):
        with open(os.path.join(V1, 'nnUNet', cfg, 'Task906_Tiny', TRAINER, 'plans.pkl'), 'rb') as f:
            plans = pickle.load(f)
        with open(os.path.join(V1, name), 'w') as f:
            json.dump(plain(plans), f, indent=1)

    src = os.path.join(V1, 'nnUNet', '2d', 'Task906_Tiny', TRAINER)
    dst = os.path.join(V1, 'nnUNet', '2d', 'Task906_Tiny', 'nnUNetTrainerV2_DP__nnUNetPlansv2.1')
    os.makedirs(os.path.join(dst, 'fold_0'), exist_ok=True)
    shutil.copy(os.path.join(src, 'plans.pkl'), os.path.join(dst, 'plans.pkl'))
    ck = torch.load(os.path.join(src, 'fold_0', 'model_final_checkpoint.model'), map_location='cpu')
    ck['state_dict'] = collections.OrderedDict(('module.' + k, t) for k, t in ck['state_dict'].items())
    ck['optimizer_state_dict'] = None
    torch.save(ck, os.path.join(dst, 'fold_0', 'model_final_checkpoint.model'),
               _use_new_zipfile_serialization=False)
    with open(os.path.join(src, 'fold_0', 'model_final_checkpoint.model.pkl'), 'rb') as f:
        info = pickle.load(f)
    info['name'] = 'nnUNetTrainerV2_DP'
    info['class'] = "<class 'nnunet.training.network_training.nnUNetTrainerV2_DP.nnUNetTrainerV2_DP'>"
    with open(os.path.join(dst, 'fold_0', 'model_final_checkpoint.model.pkl'), 'wb') as f:
        pickle.dump(info, f)


def write_variants():
    import torch.nn as nn
    from nnunet.network_architecture.generic_UNet import Generic_UNet
    from nnunet.network_architecture.initialization import InitWeights_He

    out = os.path.join(V1, 'variants')
    logits = {}
    # (configuration, trainer, convolutions per stage, extra inputs, plans' base features, network's)
    for cfg, trainer, convs, extra, plans_base, net_base in (
            ('2d', 'nnUNetTrainerV2_3ConvPerStage', 3, 0, None, 24),
            ('3d_cascade_fullres', 'nnUNetTrainerV2CascadeFullRes', None, 2, 4, 4)):
        src_cfg = '2d' if cfg == '2d' else '3d_fullres'
        with open(os.path.join(V1, 'nnUNet', src_cfg, 'Task906_Tiny', TRAINER, 'plans.pkl'), 'rb') as f:
            plans = pickle.load(f)
        if plans_base is not None:
            plans['base_num_features'] = plans_base
        # 3ConvPerStage must differ from its plans, or a loader that ignores the override passes.
        assert trainer != 'nnUNetTrainerV2_3ConvPerStage' or plans['base_num_features'] == 32
        stage = plans['plans_per_stage'][0]
        three_d = len(stage['patch_size']) == 3
        conv, norm, drop = (nn.Conv3d, nn.InstanceNorm3d, nn.Dropout3d) if three_d else \
            (nn.Conv2d, nn.InstanceNorm2d, nn.Dropout2d)
        torch.manual_seed(906)
        net = Generic_UNet(plans['num_modalities'] + extra, net_base, plans['num_classes'] + 1,
                           len(stage['pool_op_kernel_sizes']), convs or plans.get('conv_per_stage', 2), 2, conv,
                           norm, {'eps': 1e-5, 'affine': True}, drop, {'p': 0, 'inplace': True}, nn.LeakyReLU,
                           {'negative_slope': 1e-2, 'inplace': True}, True, False, lambda x: x,
                           InitWeights_He(1e-2), stage['pool_op_kernel_sizes'], stage['conv_kernel_sizes'],
                           False, True, True)
        # Non-trivial norm parameters, so that a wrong mapping shows.
        with torch.no_grad():
            for k, t in net.state_dict().items():
                if 'instnorm' in k or k.endswith('.bias'):
                    t.copy_(torch.randn(t.shape) * 0.1 + (1.0 if k.endswith('instnorm.weight') else 0.0))
        net.eval()
        net.do_ds = False
        # An input the test recomputes: 2 sin(0.37 i), float32, C order.
        shape = [1, plans['num_modalities'] + extra] + [int(s) for s in stage['patch_size']]
        x = (torch.sin(torch.arange(int(np.prod(shape)), dtype=torch.float64) * 0.37) * 2).float().reshape(shape)
        with torch.no_grad():
            y = net(x)
        folder = os.path.join(out, 'nnUNet', cfg, 'Task906_Tiny', trainer + '__nnUNetPlansv2.1')
        os.makedirs(os.path.join(folder, 'fold_0'), exist_ok=True)
        with open(os.path.join(folder, 'plans.pkl'), 'wb') as f:
            pickle.dump(plans, f)
        torch.save({'epoch': 1, 'state_dict': net.state_dict(), 'optimizer_state_dict': None,
                    'lr_scheduler_state_dict': None, 'plot_stuff': ([], [], [], []), 'best_stuff': (0, 0.0, 0.0),
                    'amp_grad_scaler': {}},
                   os.path.join(folder, 'fold_0', 'model_final_checkpoint.model'))
        info = collections.OrderedDict([
            ('init', ('/data/preprocessed/Task906_Tiny/plans.pkl', 0, '/data/results', '/data/preprocessed', True, 0,
                      True, False, True)),
            ('name', trainer), ('class', "<class '%s'>" % trainer), ('plans', plans)])
        with open(os.path.join(folder, 'fold_0', 'model_final_checkpoint.model.pkl'), 'wb') as f:
            pickle.dump(info, f)
        np.save(os.path.join(out, 'logits_%s.npy' % cfg), y.numpy().astype(np.float32))
        logits[cfg] = {'trainer': trainer, 'input_shape': shape}
    with open(os.path.join(out, 'inputs.json'), 'w') as f:
        json.dump(logits, f, indent=1)


if __name__ == '__main__':
    import sys
    # Each part can be rebuilt alone (pickled sets and legacy storage keys differ run to run).
    parts = sys.argv[1:] or ['pickles', 'torch', 'deflated', 'v1', 'variants']
    for name, fn in (('pickles', write_pickles), ('torch', write_torch), ('deflated', write_deflated),
                     ('v1', write_v1_extras), ('variants', write_variants)):
        if name in parts:
            fn()
