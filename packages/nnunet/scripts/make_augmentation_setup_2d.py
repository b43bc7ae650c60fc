# Fixture generator: runs nnU-Net v1 itself (tag nnunetv1 + batchgenerators 0.25 sources on PYTHONPATH,
# with stub SimpleITK/medpy modules) to record the expected values used by the data-loader tests.
# Usage: PYTHONPATH=/path/to/nnunetv1:/path/to/stubs /usr/bin/python3 make_augmentation_setup_2d.py
import sys, json, numpy as np
from nnunet.training.network_training.nnUNetTrainerV2 import nnUNetTrainerV2
from nnunet.training.data_augmentation.default_data_augmentation import get_patch_size
ps = json.loads(sys.argv[1]); dummy = sys.argv[2] == '1'
t = nnUNetTrainerV2.__new__(nnUNetTrainerV2)
t.patch_size = np.array(ps).astype(int)
t.threeD = len(ps) == 3
t.do_dummy_2D_aug = dummy
t.net_num_pool_op_kernel_sizes = [[2]*len(ps)]*3
t.use_mask_for_norm = None
t.print_to_log_file = lambda *a, **k: None
t.setup_DA_params()
print(json.dumps([ps, dummy, t.basic_generator_patch_size.tolist(), list(t.data_aug_params['rotation_x'])]))
