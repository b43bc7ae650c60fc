#!/usr/bin/env bash
# make test-slurm: nnUNet_slurm_submit against a real single-node Slurm cluster started here.
# Installs Debian's slurm-wlm and munge when missing (root), starts munged, slurmctld and slurmd on
# localhost with all their state in a temporary folder, submits a tiny task's experiment (3d_fullres,
# folds 0 and 1, find_best, prediction) with a 3-minute time limit so that every training gets
# Slurm's time-limit signal, checkpoints, requeues itself and continues; then checks the outcome
# and stops the cluster. Not part of `make test` (it takes several minutes). Needs root.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[test-slurm] %s\n' "$*" >&2; }
fail() { printf '[test-slurm] FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (slurmctld, slurmd and munged run as root here)"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/nnunet-slurm-apt.log 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/nnunet-slurm-apt.log 2>&1; } ||
    fail "apt-get install slurm-wlm munge failed (see /tmp/nnunet-slurm-apt.log)"
fi
BIN="$ROOT/node_modules/.bin"
[ -x "$BIN/nnUNet_slurm_submit" ] || fail "run make build first"

W=$(mktemp -d /tmp/nnunet-slurm-XXXXXX)
chmod 755 "$W"   # munged refuses a socket folder whose parents are not traversable
HOST=$(hostname -s)
PORT=$((17000 + RANDOM % 2000))
mkdir -p "$W/munge" "$W/state" "$W/spool" "$W/work"
chmod 700 "$W/munge"
dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$W/munge/munge.key"
cleanup() {
  set +e
  [ -f "$W/slurmd.pid" ] && kill "$(cat "$W/slurmd.pid")" 2>/dev/null
  [ -f "$W/slurmctld.pid" ] && kill "$(cat "$W/slurmctld.pid")" 2>/dev/null
  [ -f "$W/munge/munged.pid" ] && kill "$(cat "$W/munge/munged.pid")" 2>/dev/null
  sleep 1
  if [ "${KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
munged --socket="$W/munge/munge.socket" --key-file="$W/munge/munge.key" --pid-file="$W/munge/munged.pid" \
  --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed" --force

cat >"$W/slurm.conf" <<EOF
ClusterName=nnunet-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$W/munge/munge.socket,cred_expire=30
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=10,bf_interval=10
DependencyParameters=kill_invalid_depend
JobRequeue=1
JobCompType=jobcomp/filetxt
JobCompLoc=$W/jobcomp.txt
ReturnToService=2
MpiDefault=none
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$W/slurm.conf"
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %t | grep -q idle || fail "the Slurm node did not come up (see $W/slurmctld.log, $W/slurmd.log)"
say "cluster up on $HOST:$PORT"

# A tiny task: 10 bundled hippocampus cases, 3d_fullres only; 2 cases to predict.
export nnUNet_raw_data_base="$W/work/raw" nnUNet_preprocessed="$W/work/pre" RESULTS_FOLDER="$W/work/results"
mkdir -p "$nnUNet_raw_data_base" "$nnUNet_preprocessed" "$RESULTS_FOLDER" "$W/work/Task04_Hippocampus/imagesTr" "$W/work/Task04_Hippocampus/labelsTr" "$W/work/in"
mapfile -t cases < <(ls "$ROOT/data/Task04_Hippocampus/imagesTr" | sort | head -10)
for c in "${cases[@]}"; do
  cp "$ROOT/data/Task04_Hippocampus/imagesTr/$c" "$W/work/Task04_Hippocampus/imagesTr/"
  cp "$ROOT/data/Task04_Hippocampus/labelsTr/$c" "$W/work/Task04_Hippocampus/labelsTr/"
done
node -e '
  const fs = require("fs"); const [src, dst, ...cases] = process.argv.slice(1);
  const ds = JSON.parse(fs.readFileSync(src, "utf8"));
  ds.training = cases.map((c) => ({ image: "./imagesTr/" + c, label: "./labelsTr/" + c })); ds.numTraining = cases.length;
  fs.writeFileSync(dst, JSON.stringify(ds));' "$ROOT/data/Task04_Hippocampus/dataset.json" "$W/work/Task04_Hippocampus/dataset.json" "${cases[@]}"
for c in "${cases[@]:0:2}"; do cp "$ROOT/data/Task04_Hippocampus/imagesTr/$c" "$W/work/in/${c%.nii.gz}_0000.nii.gz"; done
"$BIN/nnUNet_convert_decathlon_task" -i "$W/work/Task04_Hippocampus" >/dev/null
"$BIN/nnUNet_plan_and_preprocess" -t 4 -pl2d None -tf 1 -tl 1 >/dev/null

# The experiment. A 3-minute limit with the warning 90 s before it: Slurm signals about 60-90 s
# into each run (it checks limits every 30 s), before a fold's 180 iterations are done (about 100 s
# here in bf16), so every
# fold is interrupted, requeued and continued (a requeued run waits about 35 s to start again).
submit=("$BIN/nnUNet_slurm_submit" -t 4 -m 3d_fullres -f 0 1 -i "$W/work/in" -o "$W/work/out"
  --time 3 --signal_seconds 90 --cpus-per-task 1 --sbatch=--export=ALL,OMP_NUM_THREADS=1
  "--train_args=--epochs 3 --iters-per-epoch 60 --val-iters-per-epoch 1 --workers 1")
"${submit[@]}" --dry-run | sed -n '/# ---- the job graph/,$p' >&2
"${submit[@]}" >"$W/submitted.txt"
cat "$W/submitted.txt" >&2
# Submitting again while the jobs are queued is refused.
if "${submit[@]}" >/dev/null 2>"$W/again.txt"; then fail "a second submission while the first is queued was accepted"; fi
grep -q "still has jobs in the queue" "$W/again.txt" || fail "second submission: $(cat "$W/again.txt")"

say "waiting for the jobs (up to 20 minutes)"
for _ in $(seq 240); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 5
done
[ -z "$(squeue -h -o %i)" ] || fail "jobs still queued after 20 minutes: $(squeue -h)"

fold() { echo "$RESULTS_FOLDER/nnUNet/3d_fullres/Task004_Hippocampus/nnUNetTrainerV2__nnUNetPlansv2.1/fold_$1"; }
for f in 0 1; do
  st=$(node -p "require('$(fold $f)/training_status.json').status" 2>/dev/null || echo missing)
  [ "$st" = complete ] || fail "fold $f: training_status $st (logs: $RESULTS_FOLDER/nnUNet/slurm/Task004_Hippocampus/logs)"
done
requeues=$(grep -c 'JobState=PENDING' "$W/jobcomp.txt" || true)
[ "$requeues" -ge 1 ] || fail "no training was requeued (jobcomp: $(cat "$W/jobcomp.txt"))"
grep -q 'Name=nnunet_Task004_Hippocampus_find_best JobState=COMPLETED' "$W/jobcomp.txt" || fail "find_best did not complete"
grep -q 'Name=nnunet_Task004_Hippocampus_predict JobState=COMPLETED' "$W/jobcomp.txt" || fail "the prediction did not complete"
n=$(ls "$W/work/out" | grep -c '\.nii\.gz$' || true)
[ "$n" -eq 2 ] || fail "expected 2 predictions in $W/work/out, found $n"
say "jobs: $(grep -c JobId= "$W/jobcomp.txt") records, $requeues requeued runs; both folds complete, find_best and prediction done"
say "passed"
