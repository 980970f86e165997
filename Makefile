# The platform's entry points. `make up` and `make test` work on a fresh machine: each creates
# .venv and installs the pinned dependencies (requirements.lock) with uv first.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/healthcare-ai
PROFILE ?= embedded
export CAREASSIST_PROFILE ?= $(PROFILE)

AIRFLOW := $(BIN)/python -m careassist.orchestration

.PHONY: up down status smoke test install lock lint pipeline serve mlflow bench-data bench-assistant bench-features bench-train bench-pipeline bench-serve clean-data

# -- set-up ----------------------------------------------------------------------------------
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: setup.cfg pyproject.toml requirements.lock | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lock: | $(BIN)/uv
	$(BIN)/uv pip compile --quiet --python 3.11 setup.cfg --extra dev -o requirements.lock

# -- the main job ----------------------------------------------------------------------------
# The whole platform in the background: MLflow UI, the training pipeline once, Airflow (API server
# with UI, scheduler, DAG processor) and the assistant's API. Prints URLs, login and API key.
up: install
	$(CLI) up

# Stop everything `make up` started.
down: install
	$(CLI) down

# Each component's process, memory and health; and a check of all three through their REST APIs.
status: install
	$(CLI) status

smoke: install
	$(CLI) smoke

# The assistant's HTTP API under gunicorn on 127.0.0.1:$CAREASSIST_API_PORT (default 8000), in the foreground.
serve: install
	$(CLI) serve

# The training DAG, run for real by Airflow (`airflow dags test`: no scheduler needed).
pipeline: install
	$(CLI) init
	$(AIRFLOW) db migrate >/dev/null
	$(AIRFLOW) dags test training_pipeline
	@echo "platform data under $$($(BIN)/python -c 'from careassist.settings import get_settings; print(get_settings().root)')"

# The MLflow tracking server (UI) of the profile in the foreground, on 127.0.0.1:$CAREASSIST_MLFLOW_PORT.
mlflow: install
	mlflow/start.sh

# -- tests and checks ------------------------------------------------------------------------
test: install
	$(BIN)/python -m pytest --cov=careassist --cov-report=term --cov-report=xml:.platform/coverage.xml $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check careassist tests serving dags benchmarks
	$(BIN)/mypy careassist serving

# -- benchmarks (figures printed side by side; never timed tests) ----------------------------
bench-data: install
	$(BIN)/python benchmarks/bench_data.py

bench-assistant: install
	$(BIN)/python benchmarks/bench_assistant.py

bench-features: install
	$(BIN)/python benchmarks/bench_features.py

bench-train: install
	$(BIN)/python benchmarks/bench_train.py

bench-pipeline: install
	$(BIN)/python benchmarks/bench_pipeline.py

bench-serve: install
	$(BIN)/python benchmarks/bench_serve.py

clean-data:
	rm -rf .platform
