# The two front-door commands (see README.md):
#   make run    set up, then serve the webhook endpoints locally on the embedded default
#   make test   set up, then run the whole test suite (unit, contract, integration, template)
#
# The build-* targets at the bottom are what `sam build` calls (BuildMethod: makefile).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0

.PHONY: setup browser run test test-fast lint-template events bench clean

# pip's notes about unreachable extra indexes on some machines are noise here, not errors.
QUIET_PIP = 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@echo "setting up $(VENV) (first time: about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip $(QUIET_PIP)
	$(PY) -m pip install --quiet -r requirements-dev.txt $(QUIET_PIP)
	$(PY) -m pip install --quiet --no-deps -e . $(QUIET_PIP)
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@echo "setting up $(SAM_VENV) (the SAM CLI, in a venv of its own)"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt $(QUIET_PIP)
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed

# Debian's chromium and ffmpeg for the browser test (apt-get; nothing is downloaded by Playwright).
browser:
	bash scripts/install-browser.sh

# The embedded default trusts a local-only SendGrid key pair (events/keys/), so a signed sample
# can be posted at once; a deployed stack never does.
run: $(VENV)/.installed
	$(VENV)/bin/ciohooks serve --port $(PORT) --local-keys events/keys

test: setup browser
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/contract

events: $(VENV)/.installed
	$(PY) events/generate.py

# Benchmarks run on demand, never in the test suite: ratios measured in one run (docs/PERFORMANCE.md).
bench: setup
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache

# ---- sam build (BuildMethod: makefile) -------------------------------------------------------
# `sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set (template.yaml: Metadata ContextPath: .).
# Paths are taken from this Makefile's own folder, not from the working directory, because SAM runs
# make in a scratch copy of the resource's CodeUri/ContentUri.
# Lambda runs Python 3.13 on arm64: pip installs aarch64/cp313 wheels whatever the build machine is.
SAM_ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PIP_LAMBDA = $(PYTHON) -m pip install --quiet --no-compile --disable-pip-version-check --upgrade \
	--platform manylinux2014_aarch64 --only-binary=:all: --python-version 3.13 --implementation cp
# $(call ship,FROM,WHAT,TO): copy FROM/WHAT into TO, without __pycache__ or *.pyc.
ship = mkdir -p "$(3)" && tar -C "$(1)" --exclude=__pycache__ --exclude='*.pyc' -cf - $(2) | tar -C "$(3)" -xf -

.PHONY: build-CioHooksLayer build-EmailIngestFunction build-VideoIngestFunction build-MobileIngestFunction build-DeliverFunction build-VideoSweepFunction template-outputs

# The layer: python/<deps> and python/ciohooks (-> /opt/python on Lambda).
build-CioHooksLayer:
	$(PIP_LAMBDA) --target "$(ARTIFACTS_DIR)/python" -r "$(SAM_ROOT)/requirements.txt"
	rm -rf "$(ARTIFACTS_DIR)/python/bin"  # console scripts of the deps, useless on Lambda
	$(call ship,$(SAM_ROOT)/shared,ciohooks,$(ARTIFACTS_DIR)/python)

# A function: only its own folder's files (handler app.lambda_handler); everything else is in the layer.
# The three ingest functions share functions/ingest; CIOHOOKS_FAMILY (template.yaml) tells them apart.
build-EmailIngestFunction: ; $(call ship,$(SAM_ROOT)/functions/ingest,.,$(ARTIFACTS_DIR))
build-VideoIngestFunction: ; $(call ship,$(SAM_ROOT)/functions/ingest,.,$(ARTIFACTS_DIR))
build-MobileIngestFunction: ; $(call ship,$(SAM_ROOT)/functions/ingest,.,$(ARTIFACTS_DIR))
build-DeliverFunction: ; $(call ship,$(SAM_ROOT)/functions/deliver,.,$(ARTIFACTS_DIR))
build-VideoSweepFunction: ; $(call ship,$(SAM_ROOT)/functions/video_sweep,.,$(ARTIFACTS_DIR))

# After adding a source: rewrite template.yaml's <Source>WebhookUrl outputs and docs/DEPLOY.md's
# secret table from the source catalog (tests/unit/test_template.py fails until they match).
template-outputs: $(VENV)/.installed
	$(PY) scripts/template_outputs.py
