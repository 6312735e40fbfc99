# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DCVENV := .venv-datacontract
DATACONTRACT := datacontract-cli[duckdb]==1.2.8
PEERVENV := .venv-pycanon
PYCANON := pycanon==1.3.6
APT_TOOLS := age minisign chromium postgresql redis-server
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help install tools test demo demo-stop bench airflow airflow-cluster lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): setup.cfg pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,devkit]'
	touch $@

$(DCVENV)/.installed:
	test -x $(DCVENV)/bin/python || $(PYTHON) -m venv $(DCVENV)
	$(DCVENV)/bin/python -m pip install -q '$(DATACONTRACT)'
	touch $@

$(PEERVENV)/.installed:
	test -x $(PEERVENV)/bin/python || $(PYTHON) -m venv $(PEERVENV)
	$(PEERVENV)/bin/python -m pip install -q '$(PYCANON)' pyarrow
	touch $@

install: $(STAMP) $(DCVENV)/.installed $(PEERVENV)/.installed tools  ## create .venv (and the peers' own venvs for interop tests: datacontract-cli, pycanon), pinned

tools:  ## install Debian's age, minisign, chromium, postgresql and redis-server when missing
	@missing=""; \
	command -v age >/dev/null || missing="$$missing age"; \
	command -v minisign >/dev/null || missing="$$missing minisign"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: install  ## install what is missing and run every test
	$(PY) -m pytest

demo: install  ## run the whole bilateral exchange KHM <-> THA on local SeaweedFS (KEEP=1: leave it up, CLASSIC=1: X25519 keys)
	$(PY) -m exchange.devkit.demo $(if $(KEEP),--keep) $(if $(CLASSIC),--classic)

demo-stop:  ## stop the SeaweedFS that `make demo KEEP=1` left running
	$(PY) -m exchange.devkit.demo --stop

bench: install  ## run the benchmarks (prints ratio tables)
	fail=0; for b in bench/[!_]*.py; do $(PY) $$b || fail=1; done; exit $$fail

airflow: install  ## start Airflow standalone for KHM with the project's DAGs (in a new folder under var/airflow)
	$(PY) -m exchange.devkit.demo --airflow

airflow-cluster: install  ## KHM's Airflow as a ministry runs it: PostgreSQL, Redis, Celery with 2 workers, on a local S3 (Ctrl-C stops it)
	$(PY) -m exchange.devkit.airflow_cluster var/airflow-cluster/$$(date +%Y%m%d-%H%M%S)

lint: install  ## ruff
	$(VENV)/bin/ruff check exchange dags tests bench

clean:  ## remove the virtualenv and build output
	rm -rf $(VENV) $(DCVENV) $(PEERVENV) build .pytest_cache
