#!/usr/bin/env bash
# nnUNet_plan_and_preprocess -t 4 -tf N -tl N on the 200-case MSD hippocampus task: ours against the
# original nnU-Net v1 (../shared/reference-v1, set up with its setup.sh), alternating round by round,
# each side into fresh cropped + preprocessed folders (the converted raw task is reused, as v1's
# script does). Prints one JSON line per round with both wall times and the ratio.
#
# Usage: packages/nnunet/bench/preprocess-vs-v1.sh   (after make build)
# Env:   MSD (path to MSD Task04_Hippocampus, required)  NPROC (default 2)  ROUNDS (default 2)
#        REF (reference-v1 folder, default ../shared/reference-v1 beside the checkout)  WORK (/tmp/nnunet_pp_bench)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
REF=${REF:-$ROOT/../shared/reference-v1}
NPROC=${NPROC:-2}
ROUNDS=${ROUNDS:-2}
WORK=${WORK:-/tmp/nnunet_pp_bench}
: "${MSD:?set MSD to the MSD Task04_Hippocampus folder}"
CLI="$ROOT/packages/nnunet/dist/src/cli"
TASK=Task004_Hippocampus
[[ -f "$CLI/plan-and-preprocess.js" ]] || { echo "run make build first" >&2; exit 1; }
[[ -x "$REF/bench_preprocess.sh" ]] || { echo "no nnU-Net v1 reference at $REF (REF=...)" >&2; exit 1; }

# Our raw task, converted once.
RAW="$WORK/raw"
if [[ $(ls "$RAW/nnUNet_raw_data/$TASK/imagesTr" 2>/dev/null | wc -l) -ne $(ls "$MSD/imagesTr" | wc -l) ]]; then
  rm -rf "$RAW"; mkdir -p "$RAW"
  nnUNet_raw_data_base="$RAW" node "$CLI/convert-decathlon-task.js" -i "$MSD" >/dev/null
fi

ours() {
  local w="$WORK/ours"
  rm -rf "$w"; mkdir -p "$w/raw/nnUNet_raw_data" "$w/pre" "$w/res"
  ln -s "$RAW/nnUNet_raw_data/$TASK" "$w/raw/nnUNet_raw_data/$TASK"
  local a b
  a=$(date +%s.%N)
  nnUNet_raw_data_base="$w/raw" nnUNet_preprocessed="$w/pre" RESULTS_FOLDER="$w/res" \
    node "$CLI/plan-and-preprocess.js" -t 4 -tf "$NPROC" -tl "$NPROC" >"$w.log" 2>&1
  b=$(date +%s.%N)
  awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b-a}'
}

for r in $(seq 1 "$ROUNDS"); do
  v1_json=$(MSD="$MSD" NPROC="$NPROC" "$REF/bench_preprocess.sh" | tail -1)
  v1_s=$(printf '%s' "$v1_json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(String(JSON.parse(s).wall_s_incl_interpreter)))')
  ours_s=$(ours)
  node -e 'const [r,o,v,n]=process.argv.slice(1);console.log(JSON.stringify({bench:"plan_and_preprocess_vs_v1",round:+r,nproc:+n,ours_s:+o,v1_s:+v,ratio:+(o/v).toFixed(3),date:new Date().toISOString().slice(0,10)}))' "$r" "$ours_s" "$v1_s" "$NPROC"
done
