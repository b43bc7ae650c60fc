#!/usr/bin/python3
"""Fixture generator: what nnU-Net v2's own dataset converters write, for test/io/convert-v2.test.ts.

Runs v2's convert_msd_dataset (nnUNetv2_convert_MSD_dataset) and convert (nnUNetv2_convert_old_
nnUNet_dataset) from an nnU-Net checkout (branch master) on two bundled hippocampus cases and
records the dataset.json each writes (keys in order) and the files of the dataset folder.

SimpleITK is not packaged for Debian's Python, and v2's MSD converter only asks it for an image's
dimension before copying a 3-D file: a stand-in module answering that one question from nibabel
(written to a temporary folder on PYTHONPATH, so the converter's worker processes import it too)
is all this script adds; every line of the conversion is v2's.

usage: /usr/bin/python3 packages/nnunet/scripts/make_v2_dataset_fixtures.py NNUNET_SRC BATCHGENERATORS_SRC
  (the two checkouts, e.g. from `git archive` of MIC-DKFZ/nnUNet master and MIC-DKFZ/batchgenerators)
writes packages/nnunet/test/fixtures/v2/converted_datasets.json
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
CASES = ['hippocampus_001', 'hippocampus_003']

SHIM = '''
import nibabel

class _Image:
    def __init__(self, ndim):
        self._ndim = ndim
    def GetDimension(self):
        return self._ndim

def ReadImage(filename):
    return _Image(len(nibabel.load(filename).shape))
'''

RUN = '''
import json, os, sys
from nnunetv2.dataset_conversion.convert_MSD_dataset import convert_msd_dataset
from nnunetv2.dataset_conversion.convert_raw_dataset_from_old_nnunet_format import convert
which, src = sys.argv[1], sys.argv[2]
if which == 'msd':
    convert_msd_dataset(src, None, 1)
else:
    convert(src, 'Dataset005_Hippocampus')
'''


def listing(folder):
    out = []
    for root, _, files in os.walk(folder):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), folder))
    return sorted(out)


def main():
    nnunet_src, bg_src = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp()
    try:
        shim = os.path.join(work, 'shim')
        os.makedirs(shim)
        with open(os.path.join(shim, 'SimpleITK.py'), 'w') as f:
            f.write(SHIM)
        # An MSD task of two bundled cases (v2 requires imagesTs/, here empty).
        task = os.path.join(work, 'Task04_Hippocampus')
        for sub in ['imagesTr', 'labelsTr', 'imagesTs']:
            os.makedirs(os.path.join(task, sub))
        for c in CASES:
            for sub in ['imagesTr', 'labelsTr']:
                shutil.copy(os.path.join(REPO, 'data', 'Task04_Hippocampus', sub, c + '.nii.gz'), os.path.join(task, sub))
        with open(os.path.join(REPO, 'data', 'Task04_Hippocampus', 'dataset.json')) as f:
            ds = json.load(f)
        ds['training'] = [{'image': f'./imagesTr/{c}.nii.gz', 'label': f'./labelsTr/{c}.nii.gz'} for c in CASES]
        ds['numTraining'] = len(CASES)
        with open(os.path.join(task, 'dataset.json'), 'w') as f:
            json.dump(ds, f, indent=4)
        # The same cases as an nnU-Net v1 raw task (what nnUNet_convert_decathlon_task writes).
        v1 = os.path.join(work, 'v1', 'Task004_Hippocampus')
        for sub in ['imagesTr', 'labelsTr', 'imagesTs']:
            os.makedirs(os.path.join(v1, sub))
        for c in CASES:
            shutil.copy(os.path.join(task, 'imagesTr', c + '.nii.gz'), os.path.join(v1, 'imagesTr', c + '_0000.nii.gz'))
            shutil.copy(os.path.join(task, 'labelsTr', c + '.nii.gz'), os.path.join(v1, 'labelsTr'))
        shutil.copy(os.path.join(task, 'dataset.json'), v1)

        result = {'generator': 'packages/nnunet/scripts/make_v2_dataset_fixtures.py', 'cases': CASES}
        for which, src, name in [('msd', task, 'Dataset004_Hippocampus'), ('old', v1, 'Dataset005_Hippocampus')]:
            raw = os.path.join(work, 'raw_' + which)
            os.makedirs(raw)
            env = dict(os.environ, nnUNet_raw=raw, PYTHONPATH=os.pathsep.join([shim, nnunet_src, bg_src]))
            env.pop('nnUNet_preprocessed', None)
            env.pop('nnUNet_results', None)
            subprocess.run([sys.executable, '-c', RUN, which, src], check=True, env=env)
            out = os.path.join(raw, name)
            with open(os.path.join(out, 'dataset.json')) as f:
                text = f.read()
            result[which] = {'dataset': name, 'dataset_json': text, 'files': listing(out)}
        target = os.path.join(REPO, 'packages', 'nnunet', 'test', 'fixtures', 'v2', 'converted_datasets.json')
        with open(target, 'w') as f:
            json.dump(result, f, indent=1)
            f.write('\n')
        print('wrote', target)
    finally:
        shutil.rmtree(work)


if __name__ == '__main__':
    main()
