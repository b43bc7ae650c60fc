/**
 * Dependency rules checked by `make test` (npm run deps): no cycles, and each folder of
 * packages/nnunet/src imports only from the folders listed before it. The order is the pipeline's:
 * NumPy-exact helpers and utilities, the shared vocabulary (model/), file formats (io/), the stages,
 * then whole commands (pipeline/) and their command-line front ends (cli/, demo/).
 */
const LAYERS = [
  'compat', // NumPy/Python-exact arithmetic and text dialects
  'util', // atomic writes, worker pools, small helpers
  'model', // configurations, folds, plans and property formats, folder layout, checkpoint metadata
  'io', // images, .npy/.npz, zip, pickle, dataset.json, verification, conversion
  'fingerprint',
  'planning',
  'preprocessing',
  'network',
  'evaluation',
  'postprocessing',
  'inference',
  'training', // may use inference for validation; inference never imports training
  'selection',
  'sharing',
  'visualisation',
  'pipeline', // whole commands as library functions
  'cli', // parse arguments, call one pipeline function, print
  'demo',
];
const SRC = '^packages/nnunet/src/';

const layerRules = LAYERS.map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only from ${LAYERS.slice(0, i).join(', ') || 'nothing but errors.ts'} (and @nnunet/torch).`,
  severity: 'error',
  from: { path: `${SRC}${layer}/` },
  to: { path: `${SRC}(${[...LAYERS.slice(i + 1).map((l) => `${l}/`), 'index\\.ts$'].join('|')})` },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not depend on each other in a cycle.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'torch-knows-no-nnunet',
      comment: '@nnunet/torch is a general LibTorch binding: it never imports the framework.',
      severity: 'error',
      from: { path: '^packages/torch/' },
      to: { path: '^packages/nnunet/' },
    },
    {
      name: 'errors-is-a-leaf',
      comment: 'errors.ts is imported by every layer, so it imports nothing of the package.',
      severity: 'error',
      from: { path: `${SRC}errors\\.ts$` },
      to: { path: SRC },
    },
    {
      name: 'src-not-test',
      comment: 'Library code never imports tests.',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      to: { path: '^packages/[^/]+/test/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|build|node_modules)/' },
    tsPreCompilationDeps: true,
  },
};
