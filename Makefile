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
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0

.PHONY: setup browser run invoke test test-fast lint-template events golden definitions bench fuzz clean

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

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@echo "setting up $(CHECKOV_VENV) (checkov, in a venv of its own)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt $(QUIET_PIP)
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed

# A Chrome or Chromium and ffmpeg for the browser tests: the machine's own where found, else Debian's
# packages, Homebrew's ffmpeg or Playwright's Chromium download; where none can be had it says so and
# `make test` runs the rest (CI=true requires them).
browser:
	bash scripts/install-browser.sh

# The embedded default trusts a local-only SendGrid key pair (events/keys/), so a signed sample
# can be posted at once; a deployed stack never does.
run: $(VENV)/.installed
	$(VENV)/bin/ciohooks serve --port $(PORT) --local-keys events/keys

# One function of template.yaml, its real handler, in the Lambda runtime emulator: no Docker, no
# AWS (queues and tables are moto's, in-process; secrets the local-only keys). See docs/DEPLOY.md.
#   make invoke FN=EmailIngestFunction EVENT=events/email/sendgrid/batch.json [LAYER=1: only the layer's files]
invoke: setup
	$(if $(and $(FN),$(EVENT)),,$(error give FN and EVENT, e.g. make invoke FN=EmailIngestFunction EVENT=events/email/sendgrid/batch.json))
	$(VENV)/bin/ciohooks invoke $(FN) $(EVENT) --project $(CURDIR)$(if $(LAYER), --layer)

test: setup browser
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$(CURDIR)/$(CHECKOV_VENV)/bin:$$PATH" $(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/contract

events: $(VENV)/.installed
	$(PY) events/generate.py

# Rewrite events/samples/**/<name>.golden.jsonl: the exact Customer.io calls each sample becomes
# (tests/unit/test_golden.py compares them byte for byte). Say in the commit why they changed.
golden: $(VENV)/.installed
	$(PY) -m events.golden

# Random fuzzing on demand: fresh draws and many more of them (the "fuzz" hypothesis profile,
# tests/conftest.py). The test suite runs the same properties derandomized. Add what it finds to
# the test as an @example: every route (test_fuzz_routes.py), and msgspec answering as json.loads
# (test_json_parsing.py).
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/security/test_fuzz_routes.py tests/unit/test_json_parsing.py -q

# Benchmarks run on demand, never in the test suite: ratios measured in one run (docs/PERFORMANCE.md).
bench: setup
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache

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

# The layer: python/<deps> and python/ciohooks (-> /opt/python on Lambda), and the custom source
# definitions (-> /opt/custom-sources), checked first: an invalid one fails the build.
build-CioHooksLayer: build-custom-sources
	$(PIP_LAMBDA) --target "$(ARTIFACTS_DIR)/python" -r "$(SAM_ROOT)/requirements.txt"
	rm -rf "$(ARTIFACTS_DIR)/python/bin"  # console scripts of the deps, useless on Lambda
	$(call ship,$(SAM_ROOT)/shared,ciohooks,$(ARTIFACTS_DIR)/python)

# The definitions shipped with the product (shared/ciohooks/sources/definitions/<name>.yaml:
# MailerSend, Mailtrap): each is checked against its samples (events/samples/<family>/<name>/) and
# written beside itself as <name>.json, the file the catalogue reads (the function has no YAML
# parser). Run it after editing a definition; tests/unit/test_shipped_definitions.py checks the JSON
# is the YAML.
SHIPPED_DEFINITIONS = $(SAM_ROOT)/shared/ciohooks/sources/definitions
.PHONY: definitions
definitions: $(VENV)/.installed
	@shopt -s nullglob; for definition in "$(SHIPPED_DEFINITIONS)"/*.yaml; do \
		name=$$(basename "$${definition%.*}"); \
		PYTHONPATH="$(SAM_ROOT)/shared" "$(CHECK_PY)" -m ciohooks.cli check-source "$$definition" "$(SAM_ROOT)"/events/samples/*/"$$name"/*.json --emit-json "$(SHIPPED_DEFINITIONS)" || exit 1; \
	done

# Every definition in CUSTOM_SOURCES_DIR (custom-sources/ at the project root) goes through
# `ciohooks check-source` with its samples (the files in <name>.samples/, if any), run by the
# project's own venv (the layer's wheels are aarch64), and is shipped as plain JSON, so the
# function needs no YAML parser. Without ARTIFACTS_DIR (`make build-custom-sources` by hand) it
# only checks. docs/CUSTOM-SOURCES.md, "Deploy".
CUSTOM_SOURCES_DIR ?= $(SAM_ROOT)/custom-sources
CHECK_PY ?= $(SAM_ROOT)/$(VENV)/bin/python
.PHONY: build-custom-sources
build-custom-sources:
	@shopt -s nullglob; for definition in "$(CUSTOM_SOURCES_DIR)"/*.yaml "$(CUSTOM_SOURCES_DIR)"/*.yml "$(CUSTOM_SOURCES_DIR)"/*.json; do \
		samples=(); [ -d "$${definition%.*}.samples" ] && samples=("$${definition%.*}.samples"/*.json "$${definition%.*}.samples"/*.query); \
		PYTHONPATH="$(SAM_ROOT)/shared" "$(CHECK_PY)" -m ciohooks.cli check-source "$$definition" "$${samples[@]}" $(if $(ARTIFACTS_DIR),--emit-json "$(ARTIFACTS_DIR)/custom-sources") \
			|| { echo "sam build: custom source $$definition is invalid (see the line above)" >&2; exit 1; }; \
	done

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
