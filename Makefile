# sbd — one Makefile for the host build, the tests, the image and the benchmarks.
# `make run` and `make test` install what they need (Debian packages, npm packages, native helpers).
SHELL := /bin/bash
ARCH ?= x86_64
# --test-force-exit: a file whose tests are done ends even if a failed test left a handle open (no CI hang).
NODE_TEST := node --import tsx --test --test-reporter=spec --test-force-exit
UNIT_TESTS = $(shell find test -name '*.test.ts' -not -path 'test/image/*' | sort)
# Image tests written but not yet passed whole on a booted image: `make test-image-held` (none now: rauc-update
# passed whole twice on 2026-12-07 and runs in `make test-image`).
IMAGE_TESTS_HELD =
IMAGE_TESTS = $(filter-out $(IMAGE_TESTS_HELD),$(shell find test/image -name '*.test.ts' 2>/dev/null | sort))

.PHONY: all deps build lint format check test test-image test-image-held run run-host image update-bundle bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@npx tsc -p tsconfig.json

# Biome: formatter and linter (biome.json says which rules are off and why). `make format` rewrites in place.
lint: deps
	@npx biome check .

format: deps
	@npx biome check --write .

# Everything but image builds: the inner loop.
check: build lint
	@$(NODE_TEST) --test-timeout=600000 $(UNIT_TESTS)

# What CI runs: check, then the image tests (they build and boot the image).
test: check test-image

# Image tests build what they boot (image/build.sh --if-stale; the base rootfs is cached under build/image/cache).
test-image: build
	@if [ -n "$(IMAGE_TESTS)" ]; then $(NODE_TEST) --test-concurrency=1 $(IMAGE_TESTS); fi

test-image-held: build
	@if [ -n "$(IMAGE_TESTS_HELD)" ]; then $(NODE_TEST) --test-concurrency=1 $(IMAGE_TESTS_HELD); else echo "no image test is held"; fi

# Host mode: the daemons that exist, on loopback, with the store under ./var.
run-host: build
	@scripts/run-host.sh

# The appliance in QEMU (TCG), serial console on this terminal: builds the image first if missing or stale.
# Ctrl-a x quits QEMU. RUN_NET=auto (default: a range no address of this host is in), N (0: 192.0.2.0/24, 1-255:
# 198.18.N.0/24; refused when the host uses it) or none (image/run.sh --net, image/run-net.ts).
# BOOT=efi (default: UEFI firmware boots the disk's own boot loader, as a machine would) or kernel (QEMU's -kernel).
RUN_NET ?= auto
BOOT ?= efi
run: build
	@image/build.sh $(ARCH) --if-stale
	@image/run.sh --arch $(ARCH) --boot $(BOOT) --net $(RUN_NET)

# IMAGE_LAYOUT=ab (default: two read-only root slots + a data partition, what RAUC updates) or single (the old
# one-root layout), for image, run, update-bundle and the image tests (image/settings.conf, docs/image.md).
image: build
	@image/build.sh $(ARCH)

# A signed RAUC bundle of the built image's root slot (scripts/update-bundle.sh; signing key: docs/firmware-update.md).
update-bundle: build
	@image/build.sh $(ARCH) --if-stale
	@scripts/update-bundle.sh $(ARCH)

bench: build
	@for b in $$(find bench -name '*.bench.ts' | sort); do echo "== $$b"; node --import tsx $$b || exit 1; done

# bench/tls's TVS load client (bench/tvs-tls-client/run.ts also builds it on first use); needs libssl-dev.
build/bench/tvs-tls-client: bench/tvs-tls-client/client.c bench/c-common/load-client.h
	@mkdir -p build/bench
	cc -O2 -Wall -Wextra -o $@ $< -lssl -lcrypto

clean:
	rm -rf dist var build
