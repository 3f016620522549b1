# The two front-door commands (see README.md):
#   make run    set up, then serve the webhook endpoints locally on the embedded default
#   make test   set up, then run the whole test suite (unit, contract, integration, template)
#
# The build-* targets at the bottom are what `sam build` calls (BuildMethod: makefile).

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0

.PHONY: setup run test test-fast lint-template events bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/ciohooks serve --port $(PORT)

test: setup
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/contract

events: $(VENV)/.installed
	$(PY) events/generate.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache

# ---- sam build (BuildMethod: makefile) -------------------------------------------------------
# (filled in with the template)
