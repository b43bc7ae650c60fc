#!/usr/bin/env bash
# nnUNet_predict with test-time mirroring on N hippocampus cases with one v1-trained 3d_fullres model:
# nnU-Net v1's own command (../shared/reference-v1/bench_predict.sh) against ours in bf16 (our CPU
# default where the CPU has AVX-512 BF16) and with --fp32, alternating round by round; wall time of
# the whole command on both sides, the same OMP_NUM_THREADS. Prints one JSON line per round, then
# the voxel agreement of our bf16 and float32 segmentations.
#
# Usage: packages/nnunet/bench/predict-vs-v1.sh   (after make build)
# Needs: the reference set up (REF/setup.sh) and its model (REF/bench_train_real.sh; any number of
#        iterations: the weights' quality does not change the time).
# Env:   N (20)  THREADS (2)  ROUNDS (2)  REF (../shared/reference-v1)  PREFIX (/tmp/nnunet_ref)
#        MODEL_RESULTS (/tmp/nnunet_anchors/train/results)  WORK (/tmp/nnunet_anchors/predict)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
REF=${REF:-$ROOT/../shared/reference-v1}
PREFIX=${PREFIX:-/tmp/nnunet_ref}
N=${N:-20}; THREADS=${THREADS:-2}; ROUNDS=${ROUNDS:-2}
MODEL_RESULTS=${MODEL_RESULTS:-/tmp/nnunet_anchors/train/results}
WORK=${WORK:-/tmp/nnunet_anchors/predict}
DIST="$ROOT/packages/nnunet/dist"
[[ -f "$DIST/src/cli/predict.js" ]] || { echo "run make build first" >&2; exit 1; }
[[ -x "$REF/bench_predict.sh" ]] || { echo "no nnU-Net v1 reference at $REF (REF=...)" >&2; exit 1; }
V1_FOLD="$MODEL_RESULTS/nnUNet/3d_fullres/Task004_Hippocampus/nnUNetTrainerV2_refCPU__nnUNetPlansv2.1"
[[ -f "$V1_FOLD/fold_0/model_final_checkpoint.model" ]] || { echo "no v1 model at $V1_FOLD: run $REF/bench_train_real.sh" >&2; exit 1; }

# The reference trains nnUNetTrainerV2_refCPU (nnUNetTrainerV2 with shorter epochs); ours reads the
# same weights as nnUNetTrainerV2, whose inference it is (the checkpoint's trainer name rewritten).
OURS_RESULTS="$WORK/ours_results"
OURS_FOLD="$OURS_RESULTS/nnUNet/3d_fullres/Task004_Hippocampus/nnUNetTrainerV2__nnUNetPlansv2.1"
rm -rf "$OURS_RESULTS"; mkdir -p "$OURS_FOLD/fold_0"
cp "$V1_FOLD/plans.pkl" "$OURS_FOLD/"
cp "$V1_FOLD/fold_0/model_final_checkpoint.model" "$OURS_FOLD/fold_0/"
/usr/bin/python3 - "$V1_FOLD/fold_0/model_final_checkpoint.model.pkl" "$OURS_FOLD/fold_0/model_final_checkpoint.model.pkl" <<'PY'
import pickle, sys
d = pickle.load(open(sys.argv[1], "rb")); d["name"] = "nnUNetTrainerV2"; pickle.dump(d, open(sys.argv[2], "wb"))
PY

wall() { local a b; a=$(date +%s.%N); "$@"; b=$(date +%s.%N); awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b-a}'; }
ours() {
  local out="$WORK/ours_$1"; rm -rf "$out"
  shift
  OMP_NUM_THREADS=$THREADS RESULTS_FOLDER="$OURS_RESULTS" nnUNet_raw_data_base="$WORK/raw" nnUNet_preprocessed="$WORK/pre" \
    /usr/bin/time -f '%M' -o "$WORK/ours_rss_kb" node "$DIST/src/cli/predict.js" -i "$WORK/in_$N" -o "$out" -t 4 -m 3d_fullres -f 0 "$@" >"$out.log" 2>&1
}
field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s.trim().split("\n").pop())[process.argv[1]])))' "$1"; }

for r in $(seq 1 "$ROUNDS"); do
  v1_json=$(TTA=1 N=$N THREADS=$THREADS MODEL_RESULTS=$MODEL_RESULTS WORK=$WORK PREFIX=$PREFIX "$REF/bench_predict.sh" | tail -1)
  v1_s=$(printf '%s' "$v1_json" | field wall_s); v1_rss=$(printf '%s' "$v1_json" | field peak_tree_rss_mb_sampled)
  bf16_s=$(wall ours bf16); bf16_rss=$(cat "$WORK/ours_rss_kb")
  fp32_s=$(wall ours fp32 --fp32); fp32_rss=$(cat "$WORK/ours_rss_kb")
  node -e 'const [r,n,t,v,vr,b,br,f,fr]=process.argv.slice(1);console.log(JSON.stringify({bench:"predict_vs_v1",round:+r,cases:+n,threads:+t,tta:true,v1_s:+v,ours_bf16_s:+b,ours_fp32_s:+f,ratio_bf16:+(b/v).toFixed(3),ratio_fp32:+(f/v).toFixed(3),peak_rss_mb:{v1_tree:+vr,ours_bf16:Math.round(br/1024),ours_fp32:Math.round(fr/1024)},date:new Date().toISOString().slice(0,10)}))' \
    "$r" "$N" "$THREADS" "$v1_s" "$v1_rss" "$bf16_s" "$bf16_rss" "$fp32_s" "$fp32_rss"
done
node "$DIST/bench/agreement.js" "$WORK/ours_bf16" "$WORK/ours_fp32"
