#!/usr/bin/env bash
# The hippocampus 3d_fullres training step (dummy batch: forward, deep-supervision Dice + CE,
# backward, clip, SGD) of nnU-Net v1 itself (its Generic_UNet and losses on Debian's PyTorch 1.13,
# from ../shared/reference-v1, set up with its setup.sh) against ours in float32 and in bf16
# (nnUNet_train's default), alternating round by round in one run with the same threads and plans.
# Prints one JSON line per round with every side's seconds per iteration and the ratios to v1.
#
# Usage: packages/nnunet/bench/train-vs-v1.sh   (after make build)
# Env:   PLANS (a v1 plans JSON, default ../shared/golden/Task004_Hippocampus/nnUNetPlansv2.1_plans_3D.json:
#        the 200-case task's, batch 7, patch 40x56x40)  STAGE (0)  ITERS (3 timed, after 2 warm-up)
#        THREADS (2)  ROUNDS (2)  REF (reference-v1 folder, default ../shared/reference-v1)  PREFIX (/tmp/nnunet_ref)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
REF=${REF:-$ROOT/../shared/reference-v1}
PREFIX=${PREFIX:-/tmp/nnunet_ref}
PLANS=${PLANS:-$ROOT/../shared/golden/Task004_Hippocampus/nnUNetPlansv2.1_plans_3D.json}
STAGE=${STAGE:-0}; ITERS=${ITERS:-3}; THREADS=${THREADS:-2}; ROUNDS=${ROUNDS:-2}
BENCH="$ROOT/packages/nnunet/dist/bench/train.js"
[[ -f "$BENCH" ]] || { echo "run make build first" >&2; exit 1; }
[[ -f "$REF/bench_train_step.py" ]] || { echo "no nnU-Net v1 reference at $REF (REF=...)" >&2; exit 1; }
[[ -f "$PREFIX/env.sh" ]] || { echo "no nnU-Net v1 install at $PREFIX: run $REF/setup.sh first" >&2; exit 1; }
[[ -f "$PLANS" ]] || { echo "no plans file $PLANS (PLANS=...)" >&2; exit 1; }

field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s.trim().split("\n").pop())[process.argv[1]])))' "$1"; }
v1() { (source "$PREFIX/env.sh"; THREADS=$THREADS /usr/bin/python3 "$REF/bench_train_step.py" "$PLANS" "$STAGE" "$ITERS" 2>/dev/null | tail -1); }
ours() { node "$BENCH" --plans "$PLANS" --stage "$STAGE" --iters "$ITERS" --threads "$THREADS" --precision "$1" --json; }

for r in $(seq 1 "$ROUNDS"); do
  v1_s=$(v1 | field seconds_per_iteration)
  bf16_s=$(ours bf16 | field dummy_s_per_it)
  fp32_s=$(ours fp32 | field dummy_s_per_it)
  node -e 'const [r,v,b,f,t]=process.argv.slice(1);console.log(JSON.stringify({bench:"train_step_vs_v1",round:+r,threads:+t,v1_fp32_s:+v,ours_bf16_s:+b,ours_fp32_s:+f,ratio_bf16:+(b/v).toFixed(3),ratio_fp32:+(f/v).toFixed(3),date:new Date().toISOString().slice(0,10)}))' "$r" "$v1_s" "$bf16_s" "$fp32_s" "$THREADS"
done
