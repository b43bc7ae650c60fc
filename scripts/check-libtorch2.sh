#!/usr/bin/env bash
# The addon against LibTorch 2.x, using nothing but Debian's mirror: Debian 13 ("trixie") roots
# made with debootstrap beside Debian 12's 1.13 that `make test` uses.
#   cpu:  libtorch-dev 2.6. `make build` inside the root (the README's install path), the
#         @nnunet/torch tests, then a short nnU-Net run from the CLI: convert, plan and preprocess,
#         a 2-process data-parallel training of one fold (c10d/Gloo), prediction.
#   cuda: libtorch-cuda-dev 2.6 (contrib; with nvidia-cuda-toolkit, which its CMake files require).
#         `make build` compiles the CUDA and NCCL paths; the
#         @nnunet/torch tests then run on the CPU with that library (no GPU needed).
# Usage (root): scripts/check-libtorch2.sh [cpu|cuda|all]   (make check-libtorch2; default all)
# The roots stay under $NNUNET_TRIXIE (default /var/tmp/nnunet-trixie) for reruns: about 3 GB
# (cpu) and 12 GB (cuda). The first run downloads about 3 GB; see the README for timings.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
base=${NNUNET_TRIXIE:-/var/tmp/nnunet-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
which=${1:-all}

say() { printf '[check-libtorch2] %s\n' "$*" >&2; }
die() { printf 'check-libtorch2: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "debootstrap and chroot need root: run as root (or with sudo)."
case $which in cpu | cuda | all) ;; *) die "unknown variant '$which': use cpu, cuda or all." ;; esac
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/tmp/nnunet-debootstrap-install.log 2>&1 ||
    die "apt-get install debootstrap failed (see /tmp/nnunet-debootstrap-install.log)."
fi

mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

# A Debian 13 root at $1 with the packages $2.. installed (made once, reused while the list is the same).
make_root() {
  local root=$1
  shift
  local want="$*"
  if [ -f "$root/.nnunet-packages" ] && [ "$(cat "$root/.nnunet-packages")" = "$want" ]; then return; fi
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    say "debootstrap trixie into $root"
    rm -rf "$root"
    debootstrap --variant=minbase --include=ca-certificates trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
      die "debootstrap failed (see $root.debootstrap.log)."
  fi
  echo "deb $mirror trixie main contrib non-free non-free-firmware" >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*
  say "installing in $root: $want"
  if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive bash -c \
    "apt-get update -q && apt-get install -y -q --no-install-recommends $want" >"$root.apt.log" 2>&1; then
    # Debian's nvidia-cudnn (contrib) downloads cuDNN from NVIDIA's site while it is configured,
    # which a machine limited to Debian's mirror cannot reach: let it configure without, so that
    # libtorch-cuda-dev installs (compiling needs no cuDNN; see cudnn_stub for running).
    [ -f "$root/var/lib/dpkg/info/nvidia-cudnn.postinst" ] && grep -q 'cudnn' "$root.apt.log" ||
      die "installing $want in the Debian 13 root failed (see $root.apt.log)."
    say "cuDNN's download from NVIDIA failed (expected without access): configuring without it"
    echo 'exit 0' >"$root/var/lib/dpkg/info/nvidia-cudnn.postinst"
    chroot "$root" dpkg --configure -a >>"$root.apt.log" 2>&1 ||
      die "configuring the packages in the Debian 13 root failed (see $root.apt.log)."
  fi
  echo "$want" >"$root/.nnunet-packages"
}

# libtorch_cuda needs libcudnn.so.9 to load, and Debian links it with -z now, so every cuDNN
# function it names must resolve at load time; none is called on a machine without a GPU. A
# stand-in library defining those names (empty functions, under cuDNN's symbol version) lets the
# CUDA build's CPU tests run. Only in the throwaway root, only when the real library is absent.
cudnn_stub() {
  local root=$1 lib=/usr/lib/x86_64-linux-gnu/libcudnn.so.9
  [ -e "$root$lib" ] && return
  say "cuda: no libcudnn.so.9 in the root (Debian downloads it from NVIDIA): a stand-in for loading"
  chroot "$root" bash -euo pipefail -c "
    d=\$(mktemp -d)
    nm -D --undefined-only /usr/lib/x86_64-linux-gnu/libtorch_cuda.so | sed -n 's/^ *U \\([A-Za-z0-9_]*\\)@libcudnn.so.9\$/\\1/p' | sort -u >\$d/names
    { echo 'const char nnunet_marker[] = \"nnunet-stand-in: no cuDNN\";'; sed 's/.*/void &(void) {}/' \$d/names; } >\$d/stub.c
    echo 'libcudnn.so.9 { global: *; };' >\$d/version.map
    gcc -shared -fPIC \$d/stub.c -Wl,-soname,libcudnn.so.9 -Wl,--version-script=\$d/version.map -o $lib
    ldconfig
    rm -rf \$d"
}

# The running system's devices and the host's CA bundle (a proxy's CA, if any) inside the root.
enter_root() {
  local root=$1 m
  for m in proc sys dev dev/pts; do
    if ! mountpoint -q "$root/$m"; then
      mount --bind "/$m" "$root/$m"
      mounted+=("$root/$m")
    fi
  done
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca-bundle.crt"
  # This working tree (tracked and untracked files, not the ignored ones) as /work/repo.
  rm -rf "$root/work/repo"
  mkdir -p "$root/work/repo"
  git -C "$repo" ls-files -co --exclude-standard -z | tar -C "$repo" --null -T - -cf - | tar -xf - -C "$root/work/repo"
}

in_root() {
  local root=$1
  shift
  chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt npm_config_cafile=/etc/ssl/certs/host-ca-bundle.crt \
    ${OMP_NUM_THREADS:+OMP_NUM_THREADS=$OMP_NUM_THREADS} bash -euo pipefail -c "cd /work/repo; $*"
}

# The @nnunet/torch tests; prints the TAP summary and fails on any failure.
torch_tests() {
  local root=$1 log=$2
  in_root "$root" 'cd packages/torch && node --test --test-concurrency=1 dist/test/' >"$log" 2>&1 || {
    grep -E '^not ok|^# (tests|pass|fail|skipped)' "$log" >&2
    die "@nnunet/torch tests failed against $(in_root "$root" 'node -p "require(\"./packages/torch\").version"' 2>/dev/null) (see $log)."
  }
  grep -E '^# (tests|pass|fail|skipped)|# SKIP' "$log" >&2
}

# nnU-Net from its commands on the bundled cases: 2 ranks train fold 0 briefly, then one case is predicted.
CLI_RUN='
w=$(mktemp -d)
export nnUNet_raw_data_base=$w/raw nnUNet_preprocessed=$w/preprocessed RESULTS_FOLDER=$w/results
bin=$PWD/node_modules/.bin
$bin/nnUNet_convert_decathlon_task -i data/Task04_Hippocampus
$bin/nnUNet_plan_and_preprocess -t 4 -pl2d None -tf 2 -tl 2
$bin/nnUNet_train 3d_fullres nnUNetTrainerV2 4 0 -num_gpus 2 --epochs 1 --iters-per-epoch 2 --val-iters-per-epoch 1
grep -q "\"status\": *\"complete\"" $RESULTS_FOLDER/nnUNet/3d_fullres/Task004_Hippocampus/nnUNetTrainerV2__nnUNetPlansv2.1/fold_0/training_status.json
mkdir $w/in
images=$nnUNet_raw_data_base/nnUNet_raw_data/Task004_Hippocampus/imagesTr
cp $images/$(ls $images | head -1) $w/in/
$bin/nnUNet_predict -i $w/in -o $w/out -t 4 -m 3d_fullres -f 0
ls $w/out/*.nii.gz
rm -rf $w
'

check_variant() {
  local variant=$1 root=$base/$1 started=$SECONDS
  case $variant in
    cpu) make_root "$root" libtorch-dev libgloo-dev nodejs npm cmake g++ make git fonts-dejavu-core ;;
    # The CUDA build links the CUDA flavour of Gloo (libgloo0 and libgloo-cuda-0 conflict).
    cuda)
      make_root "$root" libtorch-cuda-dev libgloo-cuda-dev libnccl-dev nvidia-cuda-toolkit nodejs npm cmake g++ make git \
        fonts-dejavu-core
      cudnn_stub "$root"
      ;;
  esac
  enter_root "$root"
  say "$variant: make build against $(chroot "$root" dpkg-query -W -f '${Package} ${Version}' "libtorch-${variant/cpu/dev}" 2>/dev/null || echo LibTorch 2.x)"
  in_root "$root" 'make build' >"$root.build.log" 2>&1 || {
    tail -30 "$root.build.log" >&2
    die "$variant: make build failed in the Debian 13 root (see $root.build.log)."
  }
  say "$variant: @nnunet/torch tests"
  torch_tests "$root" "$root.torch-tests.log"
  if [ "$variant" = cpu ]; then
    say "cpu: nnU-Net from the CLI (convert, plan and preprocess, 2-process training, predict)"
    in_root "$root" "$CLI_RUN" >"$root.cli.log" 2>&1 || {
      tail -30 "$root.cli.log" >&2
      die "cpu: the nnU-Net CLI run failed against LibTorch 2.x (see $root.cli.log)."
    }
    grep -E 'data-parallel training on|validation Dice|this LibTorch' "$root.cli.log" | sort -u >&2 || true
  fi
  say "$variant: passed in $((SECONDS - started)) s"
}

case $which in
  all) check_variant cpu && check_variant cuda ;;
  *) check_variant "$which" ;;
esac
