/**
 * Connected components and nnU-Net v1's postprocessing (nnunet/postprocessing/connected_components.py):
 * keep only the largest connected component of a class or a group of classes, optionally sparing
 * components at least `minimum_valid_object_size` mm³ large, and apply a postprocessing.json.
 *
 * Arrays are C order over `shape` ((z, y, x) for volumes); spacings are in the same order, in mm.
 */
import { readFileSync } from 'node:fs';
import { parsePythonJson } from '../compat/python-json.js';
import { type PythonLiteral, parsePythonLiteral } from '../compat/python-literal.js';
import { NnunetError } from '../errors.js';
import { readImage, type Volume, writeImage } from '../io/image.js';
import { product } from '../util/shape.js';

/** A class, or a group of classes treated as one region (v1's tuples, e.g. (1, 2) for liver + tumour). */
export type ClassOrGroup = number | readonly number[];

/** Segmentation arrays the postprocessing works on (numbers, not 64-bit ints). */
export type LabelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** The key of a class or group in v1's min_valid_object_sizes: "2" or Python's tuple text "(1, 2)". */
export function classKey(c: ClassOrGroup): string {
  if (typeof c === 'number') return String(c);
  return c.length === 1 ? `(${c[0]},)` : `(${c.join(', ')})`;
}

export interface Components {
  /** Component number per voxel (0 = background), 1..count. */
  labels: Int32Array;
  count: number;
  /** Voxels per component; sizes[0] is unused. */
  sizes: number[];
}

/**
 * Labels the face-connected components (6-neighbourhood in 3-D, 4 in 2-D) of the nonzero voxels,
 * as scipy.ndimage.label with its default structure: components are numbered 1, 2, ... in the
 * order of their first voxel in C order.
 */
export function labelComponents(mask: ArrayLike<number>, shape: readonly number[]): Components {
  const n = product(shape);
  if (mask.length !== n) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `the mask holds ${mask.length} voxels but shape [${shape.join(', ')}] needs ${n}.`,
    );
  }
  const nd = shape.length;
  const strides = new Array<number>(nd).fill(1);
  for (let k = nd - 2; k >= 0; k--) strides[k] = (strides[k + 1] as number) * (shape[k + 1] as number);
  const labels = new Int32Array(n);
  // Union-find over provisional labels; parent[0] is unused.
  let parent = new Int32Array(1024);
  let next = 1;
  const find = (a: number): number => {
    let r = a;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[a] !== r) {
      const up = parent[a] as number;
      parent[a] = r;
      a = up;
    }
    return r;
  };
  const coord = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 0) {
      let mine = 0;
      for (let k = 0; k < nd; k++) {
        if ((coord[k] as number) === 0) continue;
        const nb = labels[i - (strides[k] as number)] as number;
        if (nb === 0) continue;
        if (mine === 0) mine = find(nb);
        else {
          const r = find(nb);
          if (r !== mine) {
            // Keep the smaller root so that roots stay the earliest provisional label.
            if (r < mine) {
              parent[mine] = r;
              mine = r;
            } else parent[r] = mine;
          }
        }
      }
      if (mine === 0) {
        if (next === parent.length) {
          const grown = new Int32Array(parent.length * 2);
          grown.set(parent);
          parent = grown;
        }
        parent[next] = next;
        mine = next++;
      }
      labels[i] = mine;
    }
    for (let k = nd - 1; k >= 0; k--) {
      const c = (coord[k] as number) + 1;
      if (c < (shape[k] as number)) {
        coord[k] = c;
        break;
      }
      coord[k] = 0;
    }
  }
  const final = new Int32Array(next);
  const sizes = [0];
  let count = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i] as number;
    if (l === 0) continue;
    const r = find(l);
    let f = final[r] as number;
    if (f === 0) {
      f = ++count;
      final[r] = f;
      sizes.push(0);
    }
    labels[i] = f;
    sizes[f] = (sizes[f] as number) + 1;
  }
  return { labels, count, sizes };
}

/** What happened to one class or group (v1's largest_removed and kept_size entries). */
export interface ComponentReport {
  classes: ClassOrGroup;
  /** classKey(classes). */
  key: string;
  /** Volume (mm³, or voxels without spacing) of the largest removed component; null if none was removed. */
  largestRemoved: number | null;
  /** Volume of the largest component, which is always kept; null if the class is absent. */
  keptSize: number | null;
}

export interface KeepLargestOptions {
  /** Voxel spacing in mm, in the order of `shape` ((z, y, x)); without it volumes are voxel counts. */
  spacing?: readonly number[];
  /**
   * v1's minimum_valid_object_size: classKey -> volume. When given, a component that is not the
   * largest is removed only if it is smaller than this; every entry of `classesOrGroups` needs one.
   */
  minSize?: Readonly<Record<string, number>> | null;
}

export interface KeepLargestResult<T extends LabelArray> {
  seg: T;
  /** One report per class or group, in the order processed. */
  reports: ComponentReport[];
}

/**
 * The volume of one voxel as v1 computes it: float(np.prod(image.GetSpacing())), the product of
 * the (x, y, z) spacings from left to right, so sizes compare bit for bit with v1's thresholds.
 */
export function volumePerVoxel(spacing: readonly number[]): number {
  let p = 1;
  for (let k = spacing.length - 1; k >= 0; k--) p *= spacing[k] as number;
  return p;
}

function checkClasses(classes: readonly ClassOrGroup[]): void {
  for (const c of classes) {
    const members = typeof c === 'number' ? [c] : c;
    if (members.length === 0 || !members.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `for_which_classes entries must be class numbers or non-empty lists of them, got ${JSON.stringify(c)}.`,
      );
    }
    if (members.includes(0)) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `for_which_classes contains ${JSON.stringify(c)}: the background (0) cannot be filtered; list foreground classes only.`,
      );
    }
  }
}

/**
 * v1's remove_all_but_the_largest_connected_component on a copy of `seg`: for each class or
 * group in order (on the result of the previous ones), label the face-connected components of
 * its voxels and set every component to 0 that is not the largest (all components tied for the
 * largest volume stay) and, with `minSize`, smaller than minSize[classKey]. `classesOrGroups`
 * null means every nonzero class present, ascending.
 */
export function keepLargestComponent<T extends LabelArray>(
  seg: T,
  shape: readonly number[],
  classesOrGroups: readonly ClassOrGroup[] | null,
  options: KeepLargestOptions = {},
): KeepLargestResult<T> {
  const n = product(shape);
  if (seg.length !== n) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `the segmentation holds ${seg.length} voxels but shape [${shape.join(', ')}] needs ${n}.`,
    );
  }
  if (options.spacing !== undefined && options.spacing.length !== shape.length) {
    throw new NnunetError(
      'ERR_ARGUMENT',
      `spacing [${options.spacing.join(', ')}] must have one value per axis of shape [${shape.join(', ')}].`,
    );
  }
  const out = seg.slice() as T;
  const classes = classesOrGroups ?? presentClasses(out);
  checkClasses(classes);
  const minSize = options.minSize ?? null;
  if (minSize !== null) {
    const missing = classes.map(classKey).filter((k) => typeof minSize[k] !== 'number');
    if (missing.length > 0) {
      throw new NnunetError(
        'ERR_ARGUMENT',
        `min_valid_object_sizes has no entry for ${missing.join(', ')}; give one per entry of for_which_classes.`,
      );
    }
  }
  const vpv = options.spacing !== undefined ? volumePerVoxel(options.spacing) : 1;
  const reports: ComponentReport[] = [];
  const mask = new Uint8Array(n);
  for (const c of classes) {
    const members = new Set(typeof c === 'number' ? [c] : c);
    for (let i = 0; i < n; i++) mask[i] = members.has(out[i] as number) ? 1 : 0;
    const { labels, count, sizes } = labelComponents(mask, shape);
    const key = classKey(c);
    const report: ComponentReport = { classes: c, key, largestRemoved: null, keptSize: null };
    if (count > 0) {
      const volumes = sizes.map((s) => s * vpv);
      let largest = Number.NEGATIVE_INFINITY;
      for (let l = 1; l <= count; l++) largest = Math.max(largest, volumes[l] as number);
      report.keptSize = largest;
      const remove = new Uint8Array(count + 1);
      let any = false;
      for (let l = 1; l <= count; l++) {
        const v = volumes[l] as number;
        if (v === largest) continue;
        if (minSize !== null && !(v < (minSize[key] as number))) continue;
        remove[l] = 1;
        any = true;
        report.largestRemoved = report.largestRemoved === null ? v : Math.max(report.largestRemoved, v);
      }
      if (any) for (let i = 0; i < n; i++) if (remove[labels[i] as number] === 1) out[i] = 0;
    }
    reports.push(report);
  }
  return { seg: out, reports };
}

function presentClasses(seg: LabelArray): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < seg.length; i++) seen.add(seg[i] as number);
  return [...seen].filter((v) => v > 0).sort((a, b) => a - b);
}

/** The part of a postprocessing.json that applying it needs. */
export interface Postprocessing {
  /** Classes and groups to filter, in order (v1 writes groups as lists). */
  for_which_classes: ClassOrGroup[];
  /** classKey -> minimum volume (mm³) a non-largest component needs to survive; null: remove all. */
  min_valid_object_sizes: Record<string, number> | null;
}

/**
 * v1's load_remove_save on an array: the postprocessing of `pp` applied to a copy of `seg` with
 * voxel volumes from `spacing` ((z, y, x), mm).
 */
export function applyPostprocessing<T extends LabelArray>(
  seg: T,
  shape: readonly number[],
  spacing: readonly number[],
  pp: Postprocessing,
): KeepLargestResult<T> {
  return keepLargestComponent(seg, shape, pp.for_which_classes, {
    spacing,
    minSize: pp.min_valid_object_sizes,
  });
}

/**
 * v1's load_remove_save: reads a segmentation, applies `pp` and writes the result with the same
 * geometry and voxel type (atomically). Returns the per-class reports.
 */
export async function loadRemoveSave(
  inputFile: string,
  outputFile: string,
  pp: Postprocessing,
): Promise<ComponentReport[]> {
  const v: Volume = await readImage(inputFile);
  if (v.data instanceof BigInt64Array || v.data instanceof BigUint64Array) {
    throw new NnunetError(
      'ERR_IMAGE_READ',
      `${inputFile} stores 64-bit integer labels; save segmentations as uint8/int16/int32.`,
    );
  }
  const spacing = [...v.geometry.spacing].reverse();
  const { seg, reports } = applyPostprocessing(v.data, v.shape, spacing, pp);
  await writeImage({ ...v, data: seg }, outputFile);
  return reports;
}

function parseClassEntry(v: unknown): ClassOrGroup | undefined {
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  if (isInt(v)) return v;
  if (Array.isArray(v) && v.length > 0 && v.every(isInt)) return v as number[];
  return undefined;
}

function minSizesFrom(value: PythonLiteral, path: string): Record<string, number> | null {
  const bad = (why: string): never => {
    throw new NnunetError(
      'ERR_DATASET',
      `${path}: min_valid_object_sizes ${why}; it must be "None" or a dict like "{(1, 2): 120.5, 3: 40.0}" as v1 writes it.`,
    );
  };
  if (value === null) return null;
  if (!(value instanceof Map)) return bad('is not a dict');
  const out: Record<string, number> = {};
  for (const [k, v] of value) {
    const c = typeof k === 'number' ? k : Array.isArray(k) ? (k as number[]) : undefined;
    if (c === undefined || parseClassEntry(c) === undefined)
      bad(`has a key ${String(k)} that is not a class or a tuple of classes`);
    if (typeof v !== 'number') bad(`maps ${classKey(c as ClassOrGroup)} to something that is not a number`);
    out[classKey(c as ClassOrGroup)] = v as number;
  }
  return out;
}

/**
 * Reads and checks a v1 postprocessing.json: `for_which_classes` (a list of classes and lists of
 * classes) is required; `min_valid_object_sizes` is optional and holds Python's text of a dict
 * (or "None"), which is parsed as v1's ast.literal_eval would. A JSON object or null is accepted
 * too. Other keys (dc_per_class_raw, validation_raw, ...) are ignored.
 */
export function readPostprocessingJson(path: string): Postprocessing {
  let raw: unknown;
  try {
    // v1 writes its Dice scores with Python's json, so NaN may appear.
    raw = parsePythonJson(readFileSync(path, 'utf8'));
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'the file does not exist'
        : `it is not valid JSON (${(e as Error).message})`;
    throw new NnunetError('ERR_DATASET', `Cannot read ${path}: ${why}; re-run the postprocessing determination.`, {
      cause: e,
    });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new NnunetError('ERR_DATASET', `${path} is not a postprocessing.json (expected a JSON object).`);
  }
  const obj = raw as Record<string, unknown>;
  if (!('for_which_classes' in obj)) {
    throw new NnunetError(
      'ERR_DATASET',
      `${path} has no "for_which_classes"; it is not a v1 postprocessing.json (re-run the postprocessing determination).`,
    );
  }
  const fwc = obj.for_which_classes;
  if (!Array.isArray(fwc)) {
    throw new NnunetError('ERR_DATASET', `${path}: "for_which_classes" must be a list, got ${JSON.stringify(fwc)}.`);
  }
  const classes = fwc.map((e) => {
    const c = parseClassEntry(e);
    if (c === undefined) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path}: "for_which_classes" entry ${JSON.stringify(e)} is neither a class number nor a list of class numbers.`,
      );
    }
    if ((typeof c === 'number' ? [c] : c).includes(0)) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path}: "for_which_classes" contains the background class 0 (${JSON.stringify(e)}); only foreground classes can be filtered.`,
      );
    }
    return c;
  });
  let minSizes: Record<string, number> | null = null;
  const m = obj.min_valid_object_sizes;
  if (typeof m === 'string') {
    let lit: PythonLiteral;
    try {
      lit = parsePythonLiteral(m);
    } catch (e) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path}: min_valid_object_sizes "${m}" cannot be read (${(e as Error).message}); it must be "None" or a dict like "{(1, 2): 120.5, 3: 40.0}".`,
      );
    }
    minSizes = minSizesFrom(lit, path);
  } else if (m !== undefined && m !== null) {
    if (typeof m !== 'object' || Array.isArray(m)) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path}: min_valid_object_sizes must be Python's text of a dict (as v1 writes it), got ${JSON.stringify(m)}.`,
      );
    }
    const map = new Map<PythonLiteral, PythonLiteral>();
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      let key: PythonLiteral;
      try {
        key = parsePythonLiteral(k);
      } catch {
        key = k;
      }
      map.set(key, typeof v === 'number' ? v : String(v));
    }
    minSizes = minSizesFrom(map, path);
  }
  if (minSizes !== null) {
    const missing = classes.map(classKey).filter((k) => typeof minSizes[k] !== 'number');
    if (missing.length > 0) {
      throw new NnunetError(
        'ERR_DATASET',
        `${path}: min_valid_object_sizes has no entry for ${missing.join(', ')} of for_which_classes; re-run the postprocessing determination.`,
      );
    }
  }
  return { for_which_classes: classes, min_valid_object_sizes: minSizes };
}
