#!/usr/bin/env bash
# Proves, after `make build`, the two ways a user gets the nnUNet_* commands (run by `make test`):
#  1. the workspace: every command of packages/nnunet/package.json is in node_modules/.bin and runs;
#  2. a package install: `npm pack` of @nnunet/torch and nnunet, then `npm install -g` of both
#     tarballs into a scratch prefix, which builds the LibTorch addon at install time; the global
#     commands are checked and one of them converts the bundled dataset.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[check-install] %s\n' "$*" >&2; }
fail() { printf '[check-install] FAILED: %s\n' "$*" >&2; exit 1; }

mapfile -t commands < <(node -p "Object.keys(require('./packages/nnunet/package.json').bin).join('\n')")
[ "${#commands[@]}" -ge 22 ] || fail "packages/nnunet/package.json declares ${#commands[@]} commands, expected 22"

# Runs one real command from a bin folder: converts the bundled 32-case hippocampus task.
convert_with() {
  local bin=$1 out
  out=$(mktemp -d)
  nnUNet_raw_data_base=$out "$bin/nnUNet_convert_decathlon_task" -i data/Task04_Hippocampus >/dev/null 2>"$out/log" ||
    fail "$bin/nnUNet_convert_decathlon_task failed: $(cat "$out/log")"
  local n
  n=$(find "$out/nnUNet_raw_data/Task004_Hippocampus/imagesTr" -name '*_0000.nii.gz' | wc -l)
  [ "$n" -eq 32 ] || fail "$bin/nnUNet_convert_decathlon_task wrote $n training images, expected 32"
  rm -rf "$out"
}

check_bins() {
  local bin=$1 c
  for c in "${commands[@]}"; do
    [ -x "$bin/$c" ] || fail "$c is missing from $bin"
  done
  # -h loads each command's modules, the addon included.
  for c in "${commands[@]}"; do
    "$bin/$c" -h >/dev/null 2>&1 || fail "$bin/$c -h failed"
  done
}

say "workspace: ${#commands[@]} commands in node_modules/.bin"
check_bins "$PWD/node_modules/.bin"
convert_with "$PWD/node_modules/.bin"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
say "packing @nnunet/torch and nnunet"
npm pack --silent --pack-destination "$scratch" -w @nnunet/torch -w nnunet >/dev/null
torch_tgz=$(ls "$scratch"/nnunet-torch-*.tgz)
nnunet_tgz=$(ls "$scratch"/nnunet-[0-9]*.tgz)
say "npm install -g of both tarballs (builds the addon at install time, a few minutes)"
npm install -g --prefix "$scratch/prefix" --allow-scripts=@nnunet/torch --no-audit --no-fund --loglevel=error \
  "$torch_tgz" "$nnunet_tgz" >"$scratch/install.log" 2>&1 || fail "npm install -g failed: $(tail -20 "$scratch/install.log")"
[ -f "$scratch/prefix/lib/node_modules/@nnunet/torch/build/torch_node.node" ] ||
  fail "the global @nnunet/torch has no build/torch_node.node: its install script did not build the addon"
check_bins "$scratch/prefix/bin"
convert_with "$scratch/prefix/bin"
say "ok: workspace and global install both give ${#commands[@]} working commands"
