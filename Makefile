# The two commands: `make demo` and `make test`. Both install what is missing first.
.PHONY: build test demo bench lint format clean

build:
	bash scripts/setup.sh

test: build
	npx biome check .
	npm test --silent

demo: build
	node packages/torch/dist/examples/tiny-unet.js

bench: build
	npm run --silent bench -w @nnunet/torch

lint: build
	npx biome check .

format:
	npx biome format --write .

clean:
	rm -rf packages/*/dist packages/torch/build
