# `make demo` and `make test` work on a fresh machine with only python3 (3.11).
# ACCEL=cuda12 (or tpu) adds jax's plugin for that accelerator, at the locked jax version,
# to the same lock: `make demo ACCEL=cuda12`. The default, cpu, is the lock alone.
# The lock goes in with uv (pinned in it): a minute from empty caches against pip's two;
# behind a package mirror set UV_DEFAULT_INDEX, since uv does not read pip's configuration.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdir/demo
ACCEL ?= cpu
STAMP := $(VENV)/.installed-$(ACCEL)
JAX_VERSION := $(shell sed -n 's/^jax==//p' requirements.txt)
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements.txt)
UV := $(VENV)/bin/uv pip --quiet
LINTED := inbetweening configs tests benchmarks launch

ifeq ($(filter $(ACCEL),cpu cuda12 tpu),)
$(error ACCEL=$(ACCEL): must be cpu, cuda12 or tpu)
endif

.PHONY: demo test format summary benchmark clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) install --python $(PY) --compile-bytecode -r requirements.txt
ifeq ($(ACCEL),cpu)
	$(UV) uninstall --python $(PY) jax-cuda12-plugin jax-cuda12-pjrt libtpu
else
	$(UV) install --python $(PY) --compile-bytecode "jax[$(ACCEL)]==$(JAX_VERSION)"
endif
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m inbetweening.main --config=configs/demo.py --workdir=$(WORKDIR)

# 3 test workers on 2 cores: a worker waiting for the training process it started leaves its
# core to the others (WORKSPACE.md, "Test-suite time"). --no-loadscope-reorder: files in
# tests/conftest.py's order (pytest-xdist otherwise starts the files with the most tests first).
test: $(STAMP)
	$(PY) -m ruff check $(LINTED)
	$(PY) -m ruff format --check $(LINTED)
	$(PY) -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder --durations=10 tests

format: $(STAMP)
	$(PY) -m ruff check --fix $(LINTED)
	$(PY) -m ruff format $(LINTED)

summary: $(STAMP)
	$(PY) -m inbetweening.main --config=configs/base.py --workdir=workdir/summary --mode=summary

benchmark: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/train_step.py --config=configs/demo.py

clean:
	rm -rf $(VENV) workdir
