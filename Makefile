# hexmill — two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8
VENDOR := src/hexmill/web/static/vendor
PORT   ?= 8000
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test install assets lint format i18n clean help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv sync --locked --inexact --quiet
	touch $@

install: $(BIN)/.installed  ## Create .venv and install hexmill with its locked dependencies

$(VENDOR)/.built: package.json package-lock.json scripts/build-assets
	scripts/build-assets $(VENDOR)
	touch $@

assets: $(VENDOR)/.built  ## Install console libraries from the npm registry into the package

demo: install assets  ## Migrate, seed the demo park and serve it on http://127.0.0.1:$(PORT)
	$(BIN)/hexmill demo --port $(PORT)

test: install assets  ## Run the whole test suite (SQLite and a throwaway PostgreSQL)
	scripts/run-tests

lint: install  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install  ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

i18n: install  ## Extract messages and update the zh_CN/en catalogs
	scripts/update-catalogs

clean:  ## Remove the environment, built assets and local data
	rm -rf $(VENV) $(VENDOR) node_modules var test-artifacts
