# Fixture generator: runs nnU-Net v1 itself (tag nnunetv1 + batchgenerators 0.25 sources on PYTHONPATH,
# with stub SimpleITK/medpy modules) to record the expected values used by the data-loader tests.
# Usage: PYTHONPATH=/path/to/nnunetv1:/path/to/stubs /usr/bin/python3 make_augmentation_setup_3d.py
import sys, json, numpy as np
from nnunet.training.network_training.nnUNetTrainerV2 import nnUNetTrainerV2
plans = json.load(open(sys.argv[1]))
st = plans['plans_per_stage']['0']
t = nnUNetTrainerV2.__new__(nnUNetTrainerV2)
t.patch_size = np.array(st['patch_size']).astype(int)
t.threeD = len(t.patch_size) == 3
t.do_dummy_2D_aug = st['do_dummy_2D_data_aug']
t.net_num_pool_op_kernel_sizes = st['pool_op_kernel_sizes']
t.use_mask_for_norm = plans['use_mask_for_norm']
t.print_to_log_file = lambda *a, **k: None
t.setup_DA_params()
p = dict(t.data_aug_params); del p['num_threads']
p = {k: (v.tolist() if isinstance(v, np.ndarray) else list(v) if isinstance(v, tuple) else v) for k, v in p.items()}
print(json.dumps({'basic': t.basic_generator_patch_size.tolist(), 'dummy': bool(t.do_dummy_2D_aug), 'params': p}))
