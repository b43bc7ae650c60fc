/**
 * nnUNet_train -pretrained_weights (v1's load_pretrained_weights): the weights of a checkpoint are
 * copied into a freshly initialised network before training. The checkpoint is one of ours
 * (fold_0/model_final_checkpoint.safetensors of another task) or one nnU-Net v1 wrote
 * (fold_0/model_final_checkpoint.model, a torch.save file whose 'state_dict' is read without
 * Python, see io/torch-checkpoint.ts), as v1's documentation passes it. v1's rules: every
 * parameter of the encoder and decoder convolution blocks ('conv_blocks' in the name) must be
 * present with the network's shape, otherwise the architectures are incompatible and nothing is
 * loaded; any other parameter (the segmentation heads, transposed convolutions) is taken only when
 * its name and shape match, so heads for a different number of classes keep their initialisation.
 * A leading "module." (PyTorch DataParallel / DDP) is dropped from names.
 */
import { existsSync } from 'node:fs';
import { type Module, safetensors, type Tensor } from '@nnunet/torch';
import { NnunetError } from '../errors.js';
import { readTorchCheckpoint, stateDictTensors } from '../io/torch-checkpoint.js';

export interface PretrainedLoadResult {
  /** Parameters copied from the file. */
  loaded: string[];
  /** Parameters left as initialised, with the reason. */
  skipped: { name: string; reason: string }[];
}

/** Our checkpoint's weights, and v1's PyTorch checkpoint. */
const WEIGHT_SUFFIXES = ['.safetensors', '.model'] as const;

/**
 * The checkpoint file a -pretrained_weights argument names: the file itself (.safetensors or
 * v1's .model), or the checkpoint without extension, its .json or v1's .model.pkl, completed with
 * .safetensors first, then .model.
 */
export function pretrainedWeightsFile(path: string): string {
  const stem = path.replace(/\.(json|model\.pkl|model|safetensors)$/, '');
  const candidates = [path, ...WEIGHT_SUFFIXES.map((s) => `${stem}${s}`)];
  const found = candidates.find((p) => WEIGHT_SUFFIXES.some((s) => p.endsWith(s)) && existsSync(p));
  if (found === undefined)
    throw new NnunetError(
      'ERR_NOT_FOUND',
      `-pretrained_weights ${path}: no such checkpoint (.safetensors, or nnU-Net v1's .model); give a file like RESULTS_FOLDER/nnUNet/3d_fullres/TASK/TRAINER__nnUNetPlansv2.1/fold_0/model_final_checkpoint.safetensors (or .model).`,
    );
  return found;
}

/** The tensors of a checkpoint file, names as stored; the caller disposes them. */
function readWeights(file: string): Map<string, Tensor> {
  if (file.endsWith('.model')) {
    // readTorchCheckpoint names the file in its own errors.
    return stateDictTensors(readTorchCheckpoint(file).stateDict);
  }
  try {
    return safetensors.load(file).tensors;
  } catch (e) {
    throw new NnunetError(
      'ERR_DATASET',
      `-pretrained_weights ${file} is not a readable safetensors file (${(e as Error).message}).`,
    );
  }
}

const shapeText = (t: Tensor) => `[${t.shape.join(', ')}]`;

/** Copies pretrained weights into `net` by v1's rules (see the module comment). */
export function loadPretrainedWeights(net: Module, path: string): PretrainedLoadResult {
  const file = pretrainedWeightsFile(path);
  const tensors = readWeights(file);
  try {
    const pretrained = new Map<string, Tensor>();
    for (const [k, t] of tensors) pretrained.set(k.startsWith('module.') ? k.slice(7) : k, t);
    const own = net.stateDict();
    const incompatible: string[] = [];
    for (const [k, t] of own) {
      if (!k.includes('conv_blocks')) continue;
      const p = pretrained.get(k);
      if (p === undefined) incompatible.push(`${k} is missing`);
      else if (shapeText(p) !== shapeText(t))
        incompatible.push(`${k} is ${shapeText(p)}, the network needs ${shapeText(t)}`);
    }
    if (incompatible.length > 0)
      throw new NnunetError(
        'ERR_ARGUMENT',
        `-pretrained_weights ${file} does not fit this network's architecture (${incompatible.slice(0, 3).join('; ')}${incompatible.length > 3 ? `; ${incompatible.length - 3} more` : ''}): pretrain with the same plans (patch, pooling, features) and number of input channels.`,
      );
    const take = new Map<string, Tensor>();
    const skipped: PretrainedLoadResult['skipped'] = [];
    for (const [k, t] of own) {
      const p = pretrained.get(k);
      if (p === undefined) skipped.push({ name: k, reason: 'not in the file' });
      else if (shapeText(p) !== shapeText(t))
        skipped.push({ name: k, reason: `shape ${shapeText(p)} in the file, ${shapeText(t)} in the network` });
      else take.set(k, p);
    }
    net.loadStateDict(take, false);
    return { loaded: [...take.keys()], skipped };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
