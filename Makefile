# leod: `make run` runs the whole default self-training pipeline; `make test` runs the test suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock verify run test bench smoke ui study clean-venv

install: $(STAMP)

# The venv is installed from requirements.lock (exact versions + sha256, every package, torch's 2.13.0
# CPU wheel on disk among them), so a clone made next year gets what the README was measured with.
# LOCK=0 installs from pyproject.toml's floors instead (another platform, or trying newer releases).
LOCK ?= 1
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifeq ($(LOCK),1)
	$(PIP) --require-hashes --no-deps -r requirements.lock
	$(PIP) --no-deps --no-build-isolation -e .
else
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"
endif
	touch $(STAMP)

# Re-resolve every dependency (newest releases within pyproject.toml's floors) into requirements.lock.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/lock.py

# The whole default pipeline: rounds.yaml from params.yaml, the DVC remote, then `dvc repro` with one
# local Prefect server for all stages (flows/server.py: ~1-2 s per stage instead of ~8 s ephemeral).
TOOLS_PATH := PATH="$(abspath $(BIN)):$$PATH"

run: install
	$(TOOLS_PATH) $(BIN)/python -m flows.dvc_rounds
	$(TOOLS_PATH) $(BIN)/python -m flows.dvc_remote
	$(TOOLS_PATH) $(BIN)/python -m flows.server -- $(BIN)/dvc repro
	-$(BIN)/python -m flows.verify --default-metrics

# The real pipeline (dvc repro, all stages, 1 round) on the micro config in a temporary copy of the repo.
smoke: install
	$(TOOLS_PATH) $(BIN)/python -m flows.smoke

# Prefect server (UI + scheduler, for `leod serve` deployments) and the MLflow UI, on 127.0.0.1.
# Ports: PREFECT_PORT / MLFLOW_PORT, else orchestration.prefect_port / mlflow.port from params.yaml.
ui: install
	@pport=$${PREFECT_PORT:-$$($(BIN)/python -c "from leod_core.config import load_config as l; print(l().orchestration.prefect_port)")}; \
	mport=$${MLFLOW_PORT:-$$($(BIN)/python -c "from leod_core.config import load_config as l; print(l().mlflow.port)")}; \
	store=$${MLFLOW_TRACKING_URI:-$$($(BIN)/python -c "from leod_core.config import load_config as l; print(l().mlflow.tracking_uri)")}; \
	$(BIN)/python -m flows.server --port $$pport --ui --services & spid=$$!; \
	trap "kill $$spid 2>/dev/null" EXIT INT TERM; \
	if $(BIN)/python -c "import flask" 2>/dev/null; then \
	  echo "MLflow UI at http://127.0.0.1:$$mport ($$store)"; \
	  $(BIN)/mlflow ui --host 127.0.0.1 --port $$mport --backend-store-uri $$store; \
	else \
	  echo "MLflow UI: mlflow-skinny has no UI server; install it with:"; \
	  echo "  $(BIN)/pip install \"mlflow==$$($(BIN)/python -c 'import mlflow; print(mlflow.__version__)')\""; \
	  wait $$spid; \
	fi

# Label-ratio x seed study + ablations: one resumable Prefect flow (flows/study.py); `leod study --dry-run`
# lists the runs and projects the time.
study: install
	$(TOOLS_PATH) $(BIN)/leod study --workers 2

# The micro pipeline in a temporary copy; every stage output's DVC hash against verify/micro_hashes.json
# (names the first stage that differs). `make verify UPDATE=1` rewrites the expectation.
verify: install
	$(TOOLS_PATH) $(BIN)/python -m flows.verify $(if $(UPDATE),--update,)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
