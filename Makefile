# ssi: top-level build. `make help` lists the targets.
#
# The slow parts (kernel, node root file system) are cached outside the
# repository under $(SSI_CACHE) (default ~/.cache/ssi), keyed by their inputs.

SHELL := /bin/bash
SSI_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ssi
export SSI_CACHE
BUILD := $(CURDIR)/build
NODE_DIR := $(BUILD)/node
RUSTC := /usr/bin/rustc
BINDGEN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin/bindgen
NODES ?= 3
# KDIR is only looked up by the targets that need the kernel tree.
KDIR = $(shell kernel/build.sh print-dir)

.PHONY: help deps kernel modules userspace workloads node rootfs cluster test \
        test-unit test-fuzz test-vm bench-krpc bench-ckpt bench-migrate bench-migrate-phases bench-proc bench-balance bench-ha clean distclean

help:
	@echo "make deps      install what a fresh Debian 12 machine lacks (idempotent)"
	@echo "make cluster   build what is missing, boot $(NODES) nodes, shell on node 1"
	@echo "make test      unit tests, fuzzing, builds, then every qemu scenario"
	@echo "make test-unit cargo tests, clippy (no warnings) and rustfmt check"
	@echo "make test-fuzz build the proto/fuzz targets, run each FUZZ_RUNS inputs"
	@echo "make kernel    build the Rust-enabled node kernel (cached)"
	@echo "make modules   build ssi.ko against it"
	@echo "make userspace build ssi-ctl and the harness agent"
	@echo "make workloads build the ssi-wl-* checkpoint/migration test programs"
	@echo "make rootfs    build the node root file system image (cached)"
	@echo "make bench-krpc  krpc latency/throughput vs sockperf and iperf3 (prints ratios)"
	@echo "make bench-ckpt  checkpoint/restart vs criu dump/restore and dd (prints ratios)"
	@echo "make bench-migrate  live migration vs criu and iperf3, two nodes (prints ratios)"
	@echo "make bench-migrate-phases  where one migration's time goes (per-phase log, krpc counters)"
	@echo "make bench-proc  ps/top of a 4-node cluster vs the same count local; remote kill (prints ratios)"
	@echo "make bench-balance  8 unequal CPU-bound jobs on 2 one-CPU nodes: makespan vs lower bound"
	@echo "make bench-ha  protection slowdown, an increment vs criu pre-dump, replicas' overhead, recovery after node_kill"
	@echo "make clean     remove build/ and module objects (caches stay)"

deps:
	scripts/deps.sh
	kernel/build.sh rustavailable

kernel:
	kernel/build.sh

# Objects built against another kernel tree (another configuration) have
# other struct layouts and Kbuild would keep them: clean first.
modules: kernel
	@if [ "$$(cat .module-kdir 2>/dev/null)" != "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean > /dev/null; echo "$(KDIR)" > .module-kdir; fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) RUSTC=$(RUSTC) HOSTRUSTC=$(RUSTC) \
		BINDGEN=$(BINDGEN) modules
	mkdir -p $(NODE_DIR)
	install -m 0644 ssi.ko $(NODE_DIR)/ssi.ko

userspace:
	cargo build --release --locked -p ssi-ctl -p ssi-agent -p krpc-abuse
	mkdir -p $(NODE_DIR)/bin
	install -m 0755 target/release/ssi-ctl target/release/ssi-agent target/release/krpc-abuse $(NODE_DIR)/bin/
	install -m 0755 qemu-tests/node/bin/pgrep-here $(NODE_DIR)/bin/

workloads:
	$(MAKE) -C workloads
	$(MAKE) -C workloads install BINDIR=$(NODE_DIR)/bin

# Everything a node gets from this tree, in build/node (mounted at /opt/ssi).
node: modules userspace workloads

rootfs:
	qemu-tests/node/build-rootfs.sh

bench-krpc: node rootfs
	qemu-tests/run qemu-tests/bench/krpc.sh

# 256 MiB of workload, criu's copy of it and the page cache: 2 GiB per node.
bench-ckpt: node rootfs
	SSI_NODE_MEM=2048 qemu-tests/run qemu-tests/bench/ckpt.sh

# A 256 MiB process, its image in kernel memory at both ends, criu's pages in
# node 2's tmpfs and the restored copy: 2 GiB per node. One vCPU per node
# (SSI_NODE_CPUS to change it): two nodes of two vCPUs each on a two-core
# host overcommit it, and the host's scheduling, not the nodes, then sets
# the pace of whatever runs on both nodes at once (docs/benchmarks.md).
BENCH_CPUS = SSI_NODE_CPUS=$${SSI_NODE_CPUS:-1}
bench-migrate: node rootfs
	$(BENCH_CPUS) SSI_NODE_MEM=2048 qemu-tests/run qemu-tests/bench/migrate.sh

bench-migrate-phases: node rootfs
	$(BENCH_CPUS) SSI_NODE_MEM=2048 qemu-tests/run qemu-tests/bench/migrate-phases.sh

# ps -e and top on 4 nodes of 200 processes each vs 800 on one node;
# kill of a remote process vs a krpc round trip (docs/benchmarks.md).
bench-proc: node rootfs
	qemu-tests/run qemu-tests/bench/proc.sh

# 8 CPU-bound jobs of unequal work on 2 nodes of one vCPU: makespan with
# the scheduler off, placing, balancing and both vs the lower bound
# (docs/benchmarks.md).
bench-balance: node rootfs
	SSI_NODE_CPUS=1 qemu-tests/run qemu-tests/bench/balance.sh

# Protection's cost (slowdown at 1, 5, 30 s; an increment next to criu
# pre-dump --track-mem) and the recovery after node_kill (docs/benchmarks.md).
bench-ha: node rootfs
	SSI_NODE_MEM=2048 qemu-tests/run qemu-tests/bench/ha.sh

cluster: node rootfs
	qemu-tests/cluster --nodes $(NODES)

# Unit and property tests, then lints and formatting of the whole
# workspace and of the module's Rust (rustfmt.toml at the top; rustfmt
# follows each file's `mod` lines, so the two files that pull in other
# folders, ssi_main.rs and proto.rs, are left out), and the module's layers
# (scripts/check-layers.py: every dependency goes down); any warning fails.
MODULE_RS = $(filter-out modules/ssi_main.rs modules/proto.rs modules/extra_bindings.rs,\
	$(wildcard krpc/*.rs checkpoint/*.rs migration/*.rs procspace/*.rs scheduler/*.rs ha/*.rs modules/*.rs))
test-unit:
	cargo test --locked --workspace
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo fmt --all --check
	rustfmt --edition 2021 --check --config-path rustfmt.toml $(MODULE_RS)
	python3 scripts/check-layers.py

# The fuzz targets of proto/fuzz (cargo-fuzz, its own workspace and
# Cargo.lock), each run for FUZZ_RUNS inputs from its corpus directory
# (proto/fuzz/corpus/TARGET, kept between runs, not committed), at most 60 s
# each (about 25 s for both here, once built). The stable
# toolchain takes the nightly-only sanitizer flags with RUSTC_BOOTSTRAP=1.
FUZZ_RUNS ?= 100000
FUZZ_TARGETS := decode image
test-fuzz:
	cargo metadata --locked --format-version 1 --manifest-path proto/fuzz/Cargo.toml > /dev/null
	cd proto && RUSTC_BOOTSTRAP=1 cargo fuzz build
	cd proto && for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run $$t -- -runs=$(FUZZ_RUNS) -max_total_time=60 || exit 1; done

# SCENARIOS="PATTERN..." runs only the scenarios whose name contains one
# (a number such as 35, or a group such as migrate).
test-vm: node rootfs
	qemu-tests/run-all $(SCENARIOS)

test: test-unit test-fuzz test-vm

clean:
	-[ -d "$(KDIR)" ] && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD) modules/extra_bindings.rs

distclean: clean
	rm -rf target $(SSI_CACHE)
