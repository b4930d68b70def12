# spikelib — common tasks. Run `make` (or `make help`) for the list.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
FMNIST_DEB_DIR := /usr/share/datasets/fashion-mnist
PYTEST_ARGS ?=
# The suite in two processes, a test file per process at a time (module fixtures train once).
PYTEST_WORKERS ?= -n 2 --dist loadfile

export TF_CPP_MIN_LOG_LEVEL := 2

.DEFAULT_GOAL := help
.PHONY: help setup data test test-jax verify sweep bench profile candidates train-readme clean kernel runs tables reproduce book ship shipped-proof

help:  ## List the targets
	@echo "spikelib make targets:"
	@echo "  setup         create $(VENV) and install spikelib with [test,book] extras"
	@echo "  data          fetch MNIST and Fashion-MNIST into the local cache (no dataset URLs needed)"
	@echo "  test          build the book under PROFILE=ci, verify, prove the shipped runs, then run the test suite in 2 processes (PYTEST_ARGS=..., PYTEST_WORKERS= for one)"
	@echo "  test-jax      the backend-neutral tests again, under KERAS_BACKEND=jax"
	@echo "  verify        train the verify profile and check the claims it shows (C1, C6)"
	@echo "  sweep         train every tuned row x both data sets briefly: no NaN/Inf (slow tests)"
	@echo "  bench         run benchmarks/bench.py"
	@echo "  profile       time per compiled op of a training step and of evaluation"
	@echo "  candidates    where the spiking neurons' accepted candidate lies: what an early exit saves"
	@echo "  train-readme  train the README example (MNIST, 32 hidden, 3 epochs)"
	@echo "  clean         remove $(VENV) and build artefacts (keeps the data cache)"
	@echo "  kernel        register the Jupyter kernel 'spikelib' in $(VENV)"
	@echo "  runs          train every run of PROFILE's plan on Dask (SCHEDULER=tcp://host:8786 for a cluster)"
	@echo "  tables        runs, then compute every section's tables from them (results/PROFILE/tables)"
	@echo "  reproduce     tables, then execute every notebook under PROFILE=ci|quick|book|paper (default book)"
	@echo "  book          reproduce, then build the Jupyter Book into _build/html (PROFILE=...)"
	@echo "                (shipped runs are used where they match the code; RETRAIN=1 trains all)"
	@echo "  ship          ship the finished runs of PROFILE with the repository (shipped/)"
	@echo "  shipped-proof re-derive a sample of the shipped runs, reload a sample of RELOAD models (all: every one)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,book]'
	@touch $@

data: setup
	@if [ ! -d $(FMNIST_DEB_DIR) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian package dataset-fashion-mnist"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	  else \
	    echo "Note: $(FMNIST_DEB_DIR) is missing; as root run:"; \
	    echo "  apt-get update && apt-get install -y dataset-fashion-mnist"; \
	  fi; \
	fi
	@# -W: spikelib/__init__ imports spikelib.data, which makes runpy warn under -m
	$(PY) -W ignore::RuntimeWarning:runpy -m spikelib.data fetch

test: setup data
	@start=$$(date +%s); status=0; \
	$(MAKE) --no-print-directory book PROFILE=ci || status=$$?; \
	$(MAKE) --no-print-directory verify || status=$$?; \
	$(MAKE) --no-print-directory shipped-proof || status=$$?; \
	$(PY) -m pytest -q --durations=12 $(PYTEST_WORKERS) $(PYTEST_ARGS) || status=$$?; \
	$(MAKE) --no-print-directory test-jax || status=$$?; \
	echo "make test: wall time $$(( $$(date +%s) - start )) s"; \
	exit $$status

# The tests whose maths runs under either Keras backend, run again under JAX
# (float64 cases need JAX_ENABLE_X64), but for the heavy ones (marker `heavy`:
# random layers of many shapes, which eager JAX compiles anew for each shape,
# and training); tests/test_backends.py trains under both.
JAX_TESTS ?= tests/test_lambertw.py tests/test_encoding.py tests/test_convergence.py \
	tests/test_config.py tests/test_inhibition.py tests/test_autodiff.py \
	tests/test_neuron.py tests/test_training.py tests/test_sections_basic.py

test-jax: setup data
	KERAS_BACKEND=jax JAX_ENABLE_X64=1 $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_WORKERS) \
	  -W ignore::DeprecationWarning -m "not slow and not heavy" $(JAX_TESTS)

verify: setup data  ## the claims a short budget shows, for real: exit 1 if one fails
	@start=$$(date +%s); status=0; \
	$(PY) -m spikelib run --profile verify || status=$$?; \
	[ $$status -ne 0 ] || $(PY) -m spikelib.claims --profile verify --compute || status=$$?; \
	echo "make verify: wall time $$(( $$(date +%s) - start )) s"; \
	exit $$status

# Two processes: each stays far below the memory-map limit (spikelib.compiled).
SWEEP_PROCESSES ?= 2

sweep: setup data  ## every tuned row x both data sets, one short epoch each, all finite
	@start=$$(date +%s); status=0; \
	$(PY) -m pytest -q -m slow -n $(SWEEP_PROCESSES) tests/test_sweep.py $(PYTEST_ARGS) || status=$$?; \
	echo "make sweep: wall time $$(( $$(date +%s) - start )) s"; \
	exit $$status

bench: setup data
	$(PY) benchmarks/bench.py

profile: setup data
	$(PY) benchmarks/profile_step.py

candidates: setup data
	$(PY) benchmarks/candidates.py

train-readme: setup data
	$(PY) -m spikelib train --dataset mnist --noise 0 --latency 1 --hidden 32 --epochs 3

clean:
	rm -rf $(VENV) build dist *.egg-info spikelib.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

PROFILE ?= book

kernel: setup
	$(PY) -m ipykernel install --sys-prefix --name spikelib --display-name "Python 3 (spikelib)"

SCHEDULER ?=
# RETRAIN=1: train every run, ignoring the runs the repository ships (spikelib.shipped).
RETRAIN ?=
export SPIKELIB_RETRAIN := $(RETRAIN)

runs: setup data
	$(PY) -m spikelib run --profile $(PROFILE) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

tables: runs
	$(PY) -m spikelib tables --profile $(PROFILE)

# Section notebooks executed side by side (their tables are computed by then).
NOTEBOOK_JOBS ?= 2

reproduce: tables kernel
	$(PY) -m spikelib.reproduce --profile $(PROFILE) --jobs $(NOTEBOOK_JOBS)

book: reproduce
	@start=$$(date +%s); \
	$(VENV)/bin/jupyter-book build . --path-output . --all -W -n --keep-going || exit $$?; \
	echo "make book: HTML in $(CURDIR)/_build/html/index.html ($$(du -sh _build/html | cut -f1)), build $$(( $$(date +%s) - start )) s"

.PHONY: check-book
# The built book (make book) checked as a reader sees it: the HTML tests and
# headless Chromium offline (needs the Debian packages chromium, chromium-driver).
check-book: setup
	@test -f _build/html/index.html || { echo "check-book: no _build/html/index.html; run make book first"; exit 1; }
	$(PY) -m pytest -q -rs tests/test_book.py tests/test_browser.py $(PYTEST_ARGS)

ship: setup data  ## the finished runs of PROFILE into shipped/, with their manifest
	$(PY) -m spikelib.shipped ship --profile $(PROFILE)

# Shipped models whose test error the proof recomputes (drawn anew; all: every one).
RELOAD ?= 16

shipped-proof: setup data  ## CI's proof of the shipped runs (exit 1 if one differs)
	@start=$$(date +%s); status=0; \
	$(PY) -m spikelib.shipped verify --sample 2 --reload $(RELOAD) || status=$$?; \
	echo "make shipped-proof: wall time $$(( $$(date +%s) - start )) s"; \
	exit $$status
