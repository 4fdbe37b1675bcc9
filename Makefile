# Open vSwitch flow observability: build driver.
#
#   make              build the patched tree in build/ovs (incremental)
#   make demo         install what is missing, build, run the local demo
#   make check        install what is missing, build, run every test
#   make check-series the series alone: checkpatch, a build at every patch
#   make check-full   the whole OVS testsuite, base and patched, compared
#   make check-kernel-vm
#                     OVS's kernel datapath tests that the series touches,
#                     base and patched, compared, in a qemu guest
#   make bench        measure what the probes and tools cost (not in check)
#   make patches      regenerate patches/ from the commits in build/ovs
#   make series       write build/series/, the series as sent to ovs-dev
#   make apply-series DEST=dir
#                     apply build/series/ with git am to a fresh base in dir
#   make deps         install the Debian packages everything needs

SHELL := /bin/bash
TOP := $(CURDIR)

.PHONY: all build deps demo check check-series check-full check-kernel-vm \
	bench patches series \
	apply-series \
	clean distclean

all: build

build:
	@$(TOP)/scripts/build.sh

deps:
	@$(TOP)/scripts/deps.sh

demo: deps build
	@$(TOP)/scripts/demo.sh

check: deps build series
	@$(TOP)/scripts/check.sh

check-series: deps series
	@$(TOP)/scripts/check-series.sh

check-full: deps build
	@$(TOP)/scripts/check-full.sh

check-kernel-vm: deps build
	@$(TOP)/scripts/check-full.sh --kernel

bench: deps build
	@$(TOP)/scripts/bench.sh

patches:
	@$(TOP)/scripts/patches.sh regen

series: build
	@$(TOP)/scripts/patches.sh series

apply-series: series
	@$(TOP)/scripts/patches.sh apply "$(DEST)"

clean:
	@[ ! -f build/ovs/Makefile ] || $(MAKE) -s -C build/ovs clean

distclean:
	rm -rf build
