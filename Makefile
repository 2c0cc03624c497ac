# leod: `make run` runs the whole default self-training pipeline; `make test` runs the test suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench smoke ui study clean-venv

install: $(STAMP)

# torch is installed first, pinned to the 2.13.0 CPU build that lies on disk, so the package's
# `torch>=2.13.0` floor is already met and never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

run: install
	$(BIN)/leod run-pipeline

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
