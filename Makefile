# The two commands: `make demo` and `make test`. Both install what is missing first.
.PHONY: build test test-slurm check-libtorch2 gpu-check-dry-run check-install demo demo-engine bench lint format clean pack

build:
	bash scripts/setup.sh

test: build
	npx biome check .
	npm run --silent deps
	npm test --silent
	bash scripts/check-install.sh

# nnUNet_slurm_submit against a real single-node Slurm cluster started on this machine (root;
# installs slurm-wlm and munge when missing; several minutes, so not part of make test).
test-slurm: build
	bash scripts/test-slurm.sh

# The addon against LibTorch 2.x: Debian 13 roots (debootstrap; root) with libtorch-dev 2.6 (build,
# torch tests, a 2-process CLI training, prediction) and libtorch-cuda-dev 2.6 (build, CPU tests).
# Downloads ~3 GB and keeps ~15 GB under /var/tmp/nnunet-trixie on the first run.
check-libtorch2:
	bash scripts/check-libtorch2.sh

# scripts/gpu-check.sh on this machine's CPU with small budgets (proves the script, not a GPU).
gpu-check-dry-run: build
	bash scripts/gpu-check.sh --dry-run

# The commands from a fresh build's bin folder and from a global install of the packed tarballs.
check-install: build
	bash scripts/check-install.sh

# The two packages as tarballs in dist-packages/ (install both with one npm install -g, see README).
pack: build
	mkdir -p dist-packages && npm pack --pack-destination dist-packages -w @nnunet/torch -w nnunet

# The whole nnU-Net workflow on the bundled hippocampus cases (~20 min on 2 cores); DEMO_ARGS=--long for more.
demo: build
	node packages/nnunet/dist/src/demo/hippocampus.js $(DEMO_ARGS)

# The engine alone: a tiny 3-D U-Net on synthetic spheres (seconds).
demo-engine: build
	node packages/torch/dist/examples/tiny-unet.js

bench: build
	npm run --silent bench -w @nnunet/torch

lint: build
	npx biome check .

format:
	npx biome format --write .

clean:
	rm -rf packages/*/dist packages/torch/build
