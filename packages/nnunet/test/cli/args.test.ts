/** The typed argument parser of the nnUNet_* commands: v1's spelling, typed values, one-sentence errors, -h. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Args, defineCommand, parseArgs, usage } from '../../src/cli/args.js';
import { type Configuration, parseConfiguration } from '../../src/model/configuration.js';
import { PACKAGE_ROOT } from '../helpers.js';

const command = defineCommand({
  name: 'nnUNet_example',
  summary: 'An example command.',
  example: 'nnUNet_example 3d_fullres nnUNetTrainerV2',
  positionals: [
    { key: 'configuration', name: 'CONFIGURATION', help: 'the configuration', parse: parseConfiguration },
    { key: 'trainer', name: 'TRAINER', help: 'the trainer class' },
  ],
  options: {
    task: { flag: '-t', type: 'string', help: 'task id or name', required: true },
    plans: { flag: '-pl3d', type: 'string', help: '3-D planner', default: 'ExperimentPlanner3D_v21' },
    outputTaskId: { flag: '-output_task_id', type: 'int', help: 'task id of the output' },
    threads: { flag: '-tf', type: 'int', help: 'worker threads', default: 8, min: 1 },
    offset: { flag: '--offset', type: 'int', help: 'an offset' },
    folds: { flag: '-f', aliases: ['--folds'], type: 'strings', help: 'folds' },
    models: { flag: '-m', type: 'strings', help: 'configurations', default: ['2d'], choices: ['2d', '3d_fullres'] },
    device: { flag: '--device', type: 'string', choices: ['cpu', 'cuda'], help: 'cpu or cuda', default: 'cpu' },
    stage: { flag: '-s', type: 'string', choices: ['a', 'b'], help: 'a stage' },
    planner: { flag: '-pl2d', type: 'string', help: 'planner or None', parse: (v) => (v === 'None' ? null : v) },
    labels: { flag: '-l', type: 'strings', help: 'labels', parse: (vs) => vs.map(Number) },
    npz: { flag: '--npz', aliases: ['-z'], type: 'flag', help: 'save the softmax' },
  },
});

// Compile-time checks: the parsed object is typed from the declaration.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}
type Parsed = Args<typeof command>;
expectType<Equal<Parsed['task'], string>>();
expectType<Equal<Parsed['plans'], string>>();
expectType<Equal<Parsed['outputTaskId'], number | undefined>>();
expectType<Equal<Parsed['threads'], number>>();
expectType<Equal<Parsed['folds'], string[] | undefined>>();
expectType<Equal<Parsed['device'], 'cpu' | 'cuda'>>();
expectType<Equal<Parsed['stage'], 'a' | 'b' | undefined>>();
expectType<Equal<Parsed['planner'], string | null | undefined>>();
expectType<Equal<Parsed['labels'], number[] | undefined>>();
expectType<Equal<Parsed['npz'], boolean>>();
expectType<Equal<Parsed['configuration'], Configuration>>();
expectType<Equal<Parsed['trainer'], string>>();

const POSITIONALS = ['3d_fullres', 'nnUNetTrainerV2'];

function parse(...argv: string[]): Parsed {
  const r = parseArgs(command, [...POSITIONALS, ...argv]);
  assert.ok(r !== null);
  return r;
}

function rejects(argv: string[], message: RegExp): void {
  assert.throws(
    () => parseArgs(command, argv),
    (e: Error & { code?: string }) => {
      assert.equal(e.name, 'NnunetError');
      assert.equal(e.code, 'ERR_ARGUMENT');
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    },
  );
}

test('typed values, defaults, and v1 single-dash multi-letter options', () => {
  const a = parse('-t', '4', '-pl3d', 'ExperimentPlanner3D_v21_Pretrained', '-output_task_id', '104', '-tf', '3');
  assert.deepEqual(a, {
    configuration: '3d_fullres',
    trainer: 'nnUNetTrainerV2',
    task: '4',
    plans: 'ExperimentPlanner3D_v21_Pretrained',
    outputTaskId: 104,
    threads: 3,
    offset: undefined,
    folds: undefined,
    models: ['2d'],
    device: 'cpu',
    stage: undefined,
    planner: undefined,
    labels: undefined,
    npz: false,
  });
  const b = parse('-t', 'Task004_Hippocampus', '-z', '--device', 'cuda', '-pl2d', 'None', '-s', 'b');
  assert.equal(b.plans, 'ExperimentPlanner3D_v21');
  assert.equal(b.threads, 8);
  assert.equal(b.npz, true);
  assert.equal(b.device, 'cuda');
  assert.equal(b.planner, null);
  assert.equal(b.stage, 'b');
});

test('strings options take every value up to the next option; aliases and -opt=value reach the same key', () => {
  const a = parse('-f', '0', '1', '2', '-t', '4', '-m', '2d', '3d_fullres', '-l', '1', '2');
  assert.deepEqual(a.folds, ['0', '1', '2']);
  assert.deepEqual(a.models, ['2d', '3d_fullres']);
  assert.deepEqual(a.labels, [1, 2]);
  assert.deepEqual(parse('--folds', 'all', '-t', '4').folds, ['all']);
  const b = parse('-t=4', '--device=cuda', '-tf=2', '-f=0', '1');
  assert.equal(b.task, '4');
  assert.equal(b.device, 'cuda');
  assert.equal(b.threads, 2);
  assert.deepEqual(b.folds, ['0', '1']);
  // The options may also come first, and -- ends them.
  const c = parseArgs(command, ['-t', '4', '-f', '0', '--', '2d', '-trainer-with-dash']);
  assert.equal(c?.configuration, '2d');
  assert.equal(c?.trainer, '-trainer-with-dash');
  assert.deepEqual(c?.folds, ['0']);
});

test('negative numbers are values, not options', () => {
  const a = parse('-t', '4', '--offset', '-3', '-f', '-1', '-2', '-l', '-5');
  assert.equal(a.offset, -3);
  assert.deepEqual(a.folds, ['-1', '-2']);
  assert.deepEqual(a.labels, [-5]);
});

test('errors are one sentence naming the option', () => {
  rejects([...POSITIONALS, '-t', '4', '--bogus'], /^unknown option --bogus \(see nnUNet_example -h\)\.$/);
  rejects([...POSITIONALS, '-t', '4', '-tr', 'X'], /^unknown option -tr /);
  rejects([...POSITIONALS, '-t'], /^option -t needs a value /);
  rejects([...POSITIONALS, '-t', '4', '-f', '--npz'], /^option -f needs a value /);
  rejects([...POSITIONALS, '-pl3d', 'X'], /^option -t is required /);
  rejects([...POSITIONALS, '-t', '4', '-tf', '2.5'], /^option -tf needs an integer, got "2\.5" /);
  rejects([...POSITIONALS, '-t', '4', '-tf', 'x'], /^option -tf needs an integer, got "x" /);
  rejects([...POSITIONALS, '-t', '4', '-tf', '0'], /^option -tf must be at least 1, got 0 /);
  rejects([...POSITIONALS, '-t', '4', '--device', 'tpu'], /^option --device must be one of cpu, cuda, got "tpu" /);
  rejects([...POSITIONALS, '-t', '4', '-m', '2d', '3d'], /^option -m must be one of 2d, 3d_fullres, got "3d" /);
  rejects([...POSITIONALS, '-t', '4', '--npz=1'], /^option --npz takes no value/);
  // A parse function's own sentence comes through unchanged.
  rejects(
    ['3d', 'nnUNetTrainerV2', '-t', '4'],
    /^CONFIGURATION must be one of 2d, 3d_lowres, 3d_fullres, 3d_cascade_fullres/,
  );
});

test('positional arguments: the missing ones are named with the example, extra ones are refused', () => {
  rejects(
    ['-t', '4'],
    /^give the configuration and the trainer class, e\.g\. nnUNet_example 3d_fullres nnUNetTrainerV2 /,
  );
  rejects(['2d', '-t', '4'], /^give the trainer class, e\.g\. /);
  rejects([...POSITIONALS, 'extra', '-t', '4'], /^unexpected argument "extra" /);
  assert.equal(parseArgs(command, ['2d', 'T', '-t', '4'])?.trainer, 'T');
});

test('-h and --help ask for the usage, which is generated from the declaration', () => {
  assert.equal(parseArgs(command, ['-h']), null);
  assert.equal(parseArgs(command, ['2d', '--help', '--bogus']), null);
  const text = usage(command);
  const lines = text.split('\n');
  assert.equal(lines[0], 'usage: nnUNet_example CONFIGURATION TRAINER [options]');
  assert.equal(lines[1], 'An example command.');
  for (const decl of Object.values(command.options)) {
    const line = lines.find((l) => l.startsWith(`  ${decl.flag}`));
    assert.ok(line, `no line for ${decl.flag}`);
    assert.ok(line.includes(decl.help), line);
  }
  for (const p of command.positionals) assert.ok(lines.some((l) => l.startsWith(`  ${p.name} `) && l.includes(p.help)));
  assert.match(text, /\n {2}-t VALUE +task id or name \(required\)\n/);
  assert.match(text, /\n {2}-tf N +worker threads \(default 8\)\n/);
  assert.match(text, /\n {2}-f, --folds VALUE \[VALUE \.\.\.\] +folds\n/);
  assert.match(text, /\n {2}--device \{cpu,cuda\} +cpu or cuda \(default cpu\)\n/);
  assert.match(text, /\n {2}-m \{2d,3d_fullres\} \[\{2d,3d_fullres\} \.\.\.\] +configurations \(default 2d\)\n/);
  assert.match(text, /\n {2}--npz, -z +save the softmax\n/);
  assert.match(text, /\n {2}-h, --help +show this help$/);
});

test('declaring a flag or key twice is a programming error', () => {
  assert.throws(
    () =>
      defineCommand({
        name: 'x',
        summary: '',
        options: {
          a: { flag: '-a', type: 'flag', help: '' },
          b: { flag: '-b', aliases: ['-a'], type: 'flag', help: '' },
        },
      }),
    /the option -a is declared twice/,
  );
  assert.throws(
    () =>
      defineCommand({
        name: 'x',
        summary: '',
        positionals: [{ key: 'a', name: 'A', help: '' }],
        options: { a: { flag: '-a', type: 'flag', help: '' } },
      }),
    /the key a is declared twice/,
  );
});

const CLI = (name: string) => join(PACKAGE_ROOT, 'dist', 'src', 'cli', `${name}.js`);

test('a real command: -h prints its generated usage, an unknown option is one line and exit 1', () => {
  const help = spawnSync(process.execPath, [CLI('predict'), '-h'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: nnUNet_predict \[options\]\n/);
  assert.match(help.stdout, /\n {2}-m VALUE +2d, 3d_lowres, 3d_fullres or 3d_cascade_fullres \(default 3d_fullres\)\n/);
  assert.match(help.stdout, /\n {2}-z, --save_npz +also save the softmax/);
  const bad = spawnSync(process.execPath, [CLI('predict'), '-i', 'in', '-o', 'out', '-t', '4', '--bogus'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr, 'nnUNet_predict: unknown option --bogus (see nnUNet_predict -h).\n');
  const train = spawnSync(process.execPath, [CLI('train'), '-h'], { encoding: 'utf8' });
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /^usage: nnUNet_train CONFIGURATION TRAINER TASK FOLD \[options\]\n/);
  const few = spawnSync(process.execPath, [CLI('train'), '3d_fullres', '--npz'], { encoding: 'utf8' });
  assert.equal(few.status, 1);
  assert.match(
    few.stderr,
    /^nnUNet_train: give the trainer class, the task id or name and the fold \(0-4 or all\), e\.g\. nnUNet_train 3d_fullres nnUNetTrainerV2 4 0 \(see nnUNet_train -h\)\.\n$/,
  );
  assert.equal(few.stderr.trim().split('\n').length, 1);
});

test("a choice option's value is checked before the command runs", () => {
  const r = spawnSync(process.execPath, [CLI('predict'), '-i', 'in', '-o', 'out', '-t', '4', '-m', '3d'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    'nnUNet_predict: -m must be one of 2d, 3d_lowres, 3d_fullres, 3d_cascade_fullres, got "3d".\n',
  );
});
