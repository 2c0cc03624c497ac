# leod: `make run` runs the whole default self-training pipeline; `make test` runs the test suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock verify run test bench smoke ui ui-check study clean-venv dvc-yaml params-yaml

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

# The whole default pipeline: dvc.yaml from the stage specs (unchanged unless code imports changed), rounds.yaml from params.yaml, the DVC remote, then `dvc repro` with one
# local Prefect server for all stages (flows/server.py: ~1-2 s per stage instead of ~8 s ephemeral).
TOOLS_PATH := PATH="$(abspath $(BIN)):$$PATH"

run: install
	$(BIN)/python -m flows.stages
	$(TOOLS_PATH) $(BIN)/python -m flows.dvc_rounds
	$(TOOLS_PATH) $(BIN)/python -m flows.dvc_remote
	$(TOOLS_PATH) $(BIN)/python -m flows.server -- $(BIN)/dvc repro
	-$(BIN)/python -m flows.verify --default-metrics

# The real pipeline (dvc repro, all stages, 1 round) on the micro config in a temporary copy of the repo.
smoke: install
	$(TOOLS_PATH) $(BIN)/python -m flows.smoke

# The Prefect UI (server + scheduler, with the self-training deployment served: `leod serve`) and the MLflow
# UI, both on 127.0.0.1, both stopped by one Ctrl-C. Ports: PREFECT_PORT / MLFLOW_PORT, else
# orchestration.prefect_port / mlflow.port. The MLflow server (the `ui` extra: the venv has the client,
# mlflow-skinny) is installed on first use from requirements-ui.lock, on top of the venv with --no-deps.
UI_STAMP := $(VENV)/.installed-ui
UI_CHECK_STAMP := $(VENV)/.installed-ui-check
DOCS_STAMP := $(VENV)/.installed-docs

$(UI_STAMP): $(STAMP) requirements-ui.lock
ifeq ($(LOCK),1)
	$(PIP) --require-hashes --no-deps -r requirements-ui.lock
else
	$(PIP) -e ".[ui]"
endif
	touch $@

$(UI_CHECK_STAMP): $(UI_STAMP) requirements-ui-check.lock
ifeq ($(LOCK),1)
	$(PIP) --require-hashes --no-deps -r requirements-ui-check.lock
else
	$(PIP) -e ".[ui-check]"
endif
	touch $@

ui: $(UI_STAMP)
	$(TOOLS_PATH) $(BIN)/leod serve $(if $(PREFECT_PORT),-S orchestration.prefect_port=$(PREFECT_PORT)) \
	  $(if $(MLFLOW_PORT),-S mlflow.port=$(MLFLOW_PORT))

# Both UIs in headless Chromium (Debian's `chromium`: apt-get install -y chromium) after a micro run of the
# served deployment in a temporary copy; asserts on the pages, screenshots to docs/ui/ (tools/ui_check.py).
ui-check: $(UI_CHECK_STAMP) $(DOCS_STAMP)
	$(TOOLS_PATH) $(BIN)/python tools/ui_check.py

# The documentation site (mkdocs-material, mkdocs.yml) into site/: `mkdocs build --strict`, so a broken link
# or a failed reference page fails the build. Its Reference section is generated from the code at build
# time by the hook tools/gen_reference.py (CLI from the argparse parser, params.yaml keys from the config
# schema, DVC stages from flows/stages.py, the Python API through mkdocstrings);
# nothing generated is committed. The tools are the optional `docs` extra, installed on first use from
# requirements-docs.lock (python tools/lock_docs.py) on top of the venv with --no-deps.
# `make docs-serve` serves it on 127.0.0.1:$(DOCS_PORT) (DOCS_PORT=8000), rebuilding on every edit of the docs
# or of the code the reference is generated from.
.PHONY: docs docs-serve
DOCS_PORT ?= 8000

$(DOCS_STAMP): $(STAMP) requirements-docs.lock
ifeq ($(LOCK),1)
	$(PIP) --require-hashes --no-deps -r requirements-docs.lock
else
	$(PIP) -e ".[docs]"
endif
	touch $@

docs: $(DOCS_STAMP)
	$(BIN)/python -m mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	$(BIN)/python -m mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT) \
	  --watch leod_core --watch flows --watch tools/gen_reference.py --watch params.yaml --watch README.md

# Label Studio for the labelling loop (docs/how-to/label-frames.md), in its OWN virtual environment
# .venv-label from requirements-label.lock (python tools/lock_label.py): it pins Django, pandas, numpy and
# a hundred more that would fight requirements.lock, so it never touches .venv. The two talk through files
# and HTTP only. `make label ROUND=K [FRAMES=file] [LABEL_PORT=8080]`: leod export-labels for round K, then
# Label Studio on 127.0.0.1:$(LABEL_PORT) (data under artifacts/labelling/label-studio/, not $$HOME) with a
# project of those tasks and their pre-annotations; prints the URL and login; Ctrl-C exports the
# annotations to artifacts/labelling/round_K/export/returned.json and stops it. An existing project of the
# round opens as it is; FRESH=1 starts it over (tools/label_studio.py). `make label-check` (~1 min): the
# round trip through its HTTP API and headless Chromium in a temporary folder (tools/label_check.py).
.PHONY: label label-check
LABEL_VENV := .venv-label
LABEL_STAMP := $(LABEL_VENV)/.installed
LABEL_PORT ?= 8080

$(LABEL_STAMP): requirements-label.lock
	test -x $(LABEL_VENV)/bin/python || $(PYTHON) -m venv $(LABEL_VENV)
	$(LABEL_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
	  -r requirements-label.lock
	touch $@

label: $(STAMP) $(LABEL_STAMP)
	@test -n "$(ROUND)" || { echo "make label: ROUND=K is required (the round whose boxes are the pre-annotations)"; exit 2; }
	$(BIN)/python tools/label_studio.py --round $(ROUND) $(if $(FRAMES),--frames $(FRAMES)) --port $(LABEL_PORT) \
	  $(if $(FRESH),--fresh)

label-check: $(UI_CHECK_STAMP) $(LABEL_STAMP)
	$(BIN)/python tools/label_check.py

# Label-ratio x seed study + ablations: one resumable Prefect flow (flows/study.py); `leod study --dry-run`
# lists the runs and projects the time.
study: install
	$(TOOLS_PATH) $(BIN)/leod study --workers 2

# The micro pipeline in a temporary copy; every stage output's DVC hash against verify/micro_hashes.json
# (names the first stage that differs). `make verify UPDATE=1` rewrites the expectation.
verify: install
	$(TOOLS_PATH) $(BIN)/python -m flows.verify $(if $(UPDATE),--update,)

# dvc.yaml from the stage specs (flows/stages.py): code deps = each stage's import closure. A test fails
# when the committed file is not what the specs generate.
dvc-yaml: install
	$(BIN)/python -m flows.stages

# params.yaml from the config schema (leod_core/config.py: each key's default, doc and check, written once).
# A test fails when the committed file is not what the schema renders.
params-yaml: install
	$(BIN)/python -m flows.params_yaml

# Two pytest-xdist workers (TEST_WORKERS=0: one process): most of the suite's time is subprocesses that
# keep one core busy. Each worker builds the session's plumbing run once for its own tests.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

bench: install
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
