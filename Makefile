# The two commands: `make demo` and `make test`. Both install what is missing first.
.PHONY: build test test-slurm check-install demo demo-engine bench lint format clean pack

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
