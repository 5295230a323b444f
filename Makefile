# `make demo` and `make test` work on a fresh machine with only python3 (3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKDIR ?= workdir/demo
STAMP := $(VENV)/.installed

.PHONY: demo test summary benchmark clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m inbetweening.main --config=configs/demo.py --workdir=$(WORKDIR)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=10 tests

summary: $(STAMP)
	$(PY) -m inbetweening.main --config=configs/base.py --workdir=workdir/summary --mode=summary

benchmark: $(STAMP)
	PYTHONPATH=. $(PY) benchmarks/train_step.py --config=configs/demo.py

clean:
	rm -rf $(VENV) workdir
