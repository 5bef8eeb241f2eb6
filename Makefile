# rlforge — set-up, build, test, demo. Every target installs what is missing
# first (Debian packages, as root or with sudo), so each works on a fresh
# Debian 12 machine.
BUILD   ?= build
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
# The project-local virtual environment of the Python package and its tests.
VENV    ?= .venv
PYTHON   = $(VENV)/bin/python

.PHONY: all deps venv configure build test test-python test-long demo bench clean fuzz fuzz-build

all: build

deps:
	@bash scripts/install_deps.sh

# Debian's python3 in $(VENV), with gymnasium, numpy and pytest from PyPI, and
# a .pth file that puts the build tree's rlforge package on its path.
venv: deps
	@bash scripts/python_env.sh $(VENV) $(BUILD)

configure: deps venv
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DRLFORGE_PYTHON=ON \
	  -DPython_EXECUTABLE=$(abspath $(PYTHON)) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The default suite: unit, conformance, statistics and CLI tests, then a
# short fixed-seed run of every fuzz target (5,000 inputs each).
test: build fuzz-build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE long
	@$(PYTHON) -m pytest -q python/tests
	@bash fuzz/run.sh $(FUZZ_BUILD) 30 5000

# The Python suite alone (python/tests, against the build tree's package).
test-python: build
	@$(PYTHON) -m pytest -q python/tests

# Fuzz targets (libFuzzer with Debian's clang, ASan + UBSan; fuzz/): the YAML
# config loader, --set/--kwarg parsing, checkpoint files, env states.
# `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_BUILD   ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 60
fuzz-build: deps
	@cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Long learning runs (added with the agents) carry the ctest label `long`.
test-long: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L long

# The main job: train PPO on CartPole-v1 from scratch (the zoo's preset,
# 100k steps) and evaluate it over 100 deterministic episodes.
DEMO_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
demo: build
	@$(BUILD)/rlforge train --algo ppo --env CartPole-v1 --seed 0 --out $(DEMO_DIR)
	@$(BUILD)/rlforge eval --env CartPole-v1 --policy $(DEMO_DIR) --episodes 100 --deterministic

# Performance figures (see README's performance table).
bench: build
	@$(BUILD)/rlforge bench env --env all --num-envs 1024 --threads 2 --steps 20000000
	@$(BUILD)/rlforge_bench --benchmark_min_time=0.2
	@$(BUILD)/rlforge bench search --env ConnectFour-v0 --simulations 800

clean:
	rm -rf $(BUILD)
