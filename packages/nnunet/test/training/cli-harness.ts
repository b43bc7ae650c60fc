/**
 * Running the built nnUNet_* commands as real child processes on a tiny real task (the first N of
 * the bundled hippocampus cases): converted, planned and preprocessed once per test file.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { folderEnv, HIPPOCAMPUS, PACKAGE_ROOT, tempDir } from '../helpers.js';

export const CLI = (name: string) => join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`);

/** An MSD-layout copy of the first `n` bundled hippocampus cases. */
export function smallHippocampusTask(root: string, n = 10): string {
  const cases = readdirSync(join(HIPPOCAMPUS, 'imagesTr')).sort().slice(0, n);
  const task = join(root, 'Task04_Hippocampus');
  for (const d of ['imagesTr', 'labelsTr']) mkdirSync(join(task, d), { recursive: true });
  for (const c of cases) {
    copyFileSync(join(HIPPOCAMPUS, 'imagesTr', c), join(task, 'imagesTr', c));
    copyFileSync(join(HIPPOCAMPUS, 'labelsTr', c), join(task, 'labelsTr', c));
  }
  const ds = JSON.parse(readFileSync(join(HIPPOCAMPUS, 'dataset.json'), 'utf8'));
  ds.training = cases.map((c) => ({ image: `./imagesTr/${c}`, label: `./labelsTr/${c}` }));
  ds.numTraining = cases.length;
  writeFileSync(join(task, 'dataset.json'), JSON.stringify(ds));
  return task;
}

export interface Workspace {
  root: string;
  env: NodeJS.ProcessEnv;
  /** Runs a command to its end; asserts the exit code (default 0). */
  run(name: string, args: string[], status?: number): { stdout: string; stderr: string; status: number | null };
  /** A 3d_fullres fold folder of Task004 (trainer default nnUNetTrainerV2). */
  fold(n: number, trainer?: string): string;
}

/** A converted, planned and preprocessed tiny task with its own environment folders. */
export function preparedWorkspace(cases = 10): Workspace {
  const root = tempDir();
  const env = {
    ...folderEnv(root),
    NNUNET_PROGRESS_SECONDS: '0',
  };
  const run = (name: string, args: string[], status = 0) => {
    const r = spawnSync(process.execPath, [CLI(name), ...args], { env, encoding: 'utf8' });
    assert.equal(r.status, status, `${name} ${args.join(' ')}\n${r.stderr}`);
    return r;
  };
  run('convert-decathlon-task', ['-i', smallHippocampusTask(root, cases)]);
  run('plan-and-preprocess', ['-t', '4', '-pl2d', 'None', '-tf', '2', '-tl', '2']);
  const fold = (n: number, trainer = 'nnUNetTrainerV2') =>
    join(env.RESULTS_FOLDER, 'nnUNet', '3d_fullres', 'Task004_Hippocampus', `${trainer}__nnUNetPlansv2.1`, `fold_${n}`);
  return { root, env, run, fold };
}

/** A running command whose stderr is watched. */
export class Running {
  readonly child: ChildProcess;
  stderr = '';
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #watchers: { re: RegExp; resolve: () => void }[] = [];

  constructor(name: string, args: string[], env: NodeJS.ProcessEnv, program?: string) {
    this.child =
      program === undefined
        ? spawn(process.execPath, [CLI(name), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.resume();
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => {
      this.stderr += d;
      for (const w of [...this.#watchers]) {
        if (w.re.test(this.stderr)) {
          this.#watchers.splice(this.#watchers.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    this.done = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves when stderr matches `re`; rejects if the process ends first. */
  waitFor(re: RegExp): Promise<void> {
    if (re.test(this.stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#watchers.push({ re, resolve });
      void this.done.then(() => {
        if (!re.test(this.stderr)) reject(new Error(`ended before ${re}:\n${this.stderr}`));
      });
    });
  }
}

/** A bash script run like a batch job, watched like a command. */
export class ScriptRun extends Running {
  constructor(script: string, env: NodeJS.ProcessEnv) {
    super('', [script], env, '/bin/bash');
  }
}
