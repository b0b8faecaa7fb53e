# sbd — one Makefile for the host build, the tests, the image and the benchmarks.
# `make run` and `make test` install what they need (Debian packages, npm packages, native helpers).
SHELL := /bin/bash
ARCH ?= x86_64
NODE_TEST := node --import tsx --test --test-reporter=spec
UNIT_TESTS = $(shell find test -name '*.test.ts' -not -path 'test/image/*' | sort)
IMAGE_TESTS = $(shell find test/image -name '*.test.ts' 2>/dev/null | sort)

.PHONY: all deps build check test test-image run run-host image bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@npx tsc -p tsconfig.json

# Everything but image builds: the inner loop.
check: build
	@$(NODE_TEST) $(UNIT_TESTS)

# What CI runs: check, then the image tests (they build and boot the image).
test: check test-image

test-image: build
	@if [ -n "$(IMAGE_TESTS)" ]; then $(NODE_TEST) --test-concurrency=1 $(IMAGE_TESTS); fi

# Host mode: the daemons that exist, on loopback, with the store under ./var.
run-host: build
	@scripts/run-host.sh

run: run-host

image: build
	@if [ -x image/build.sh ]; then image/build.sh $(ARCH); else echo "image recipe not present yet" >&2; exit 1; fi

bench: build
	@for b in $$(find bench -name '*.bench.ts' | sort); do echo "== $$b"; node --import tsx $$b || exit 1; done

clean:
	rm -rf dist var build
