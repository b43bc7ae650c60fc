// Configures and builds the native addon with CMake, then regenerates the TypeScript declarations of
// its ops (scripts/gen-native.mjs). LIBTORCH=/path selects a LibTorch other than Debian's (a folder
// with share/cmake/Torch, e.g. the torch/ folder of a PyTorch wheel). `--addon-only` (the package's
// install script: an installed package has compiled declarations and no src/) skips the generation.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build');
const require = createRequire(import.meta.url);
const headers = require('node-api-headers').include_dir;

const args = [
  '-S',
  root,
  '-B',
  build,
  `-DNODE_API_INCLUDE_DIR=${headers}`,
  `-DCMAKE_BUILD_TYPE=${process.env.TORCH_NODE_BUILD_TYPE ?? 'Release'}`,
];
const libtorch = process.env.LIBTORCH;
if (libtorch) {
  // A LibTorch folder, a PyTorch install's torch/ folder, or its torch.utils.cmake_prefix_path.
  const cmakeDir = [
    join(libtorch, 'share/cmake/Torch'),
    join(libtorch, 'lib/cmake/Torch'),
    join(libtorch, 'Torch'),
  ].find((d) => existsSync(join(d, 'TorchConfig.cmake')));
  if (!cmakeDir) {
    console.error(
      `LIBTORCH=${libtorch} has no share/cmake/Torch/TorchConfig.cmake: point LIBTORCH at a LibTorch folder, a PyTorch install's torch/ folder or its torch.utils.cmake_prefix_path.`,
    );
    process.exit(1);
  }
  args.push(`-DCMAKE_PREFIX_PATH=${libtorch}`);
}
mkdirSync(build, { recursive: true });
const run = (cmd, a) => execFileSync(cmd, a, { stdio: 'inherit' });
try {
  run('cmake', args);
  run('cmake', ['--build', build, '--parallel', String(Math.max(1, cpus().length))]);
} catch {
  console.error('Building the LibTorch addon failed (see the compiler output above).');
  process.exit(1);
}
if (process.argv.includes('--addon-only')) process.exit(0);
// The build's own addon, even when TORCH_NODE_ADDON points the runtime at another one.
const env = { ...process.env, TORCH_NODE_ADDON: join(build, 'torch_node.node') };
try {
  execFileSync(process.execPath, [join(root, 'scripts', 'gen-native.mjs')], { stdio: 'inherit', env });
} catch {
  console.error('Generating src/native-ops.generated.ts from the built addon failed (see above).');
  process.exit(1);
}
