# Two commands matter: `make run` and `make test`. Everything else is set-up they share.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt | cksum | cut -d' ' -f1)
# The pinned tree (requirements.txt applies constraints.txt), from wheels only so nothing
# compiles: snownlp publishes only a source archive of pure Python, which installs as is.
WHEELS_ONLY := --only-binary :all: --no-binary snownlp
# uv (pinned in constraints.txt) installs the tree in seconds where it can reach its index
# (PyPI, or UV_DEFAULT_INDEX); otherwise, or with INSTALLER=pip, pip does (it honours pip.conf).
INSTALLER ?= uv

.PHONY: run test bench perf-doc lint security services stop clean-data messages

$(STAMP): requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && $(PY) -m pip install --quiet -c constraints.txt uv \
		&& $(PY) -m uv pip install --quiet --python $(PY) $(WHEELS_ONLY) -r requirements.txt; \
	then echo "installed the requirements with uv"; \
	else $(PY) -m pip install --quiet --upgrade pip \
		&& $(PY) -m pip install --quiet $(WHEELS_ONLY) -r requirements.txt; fi
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(PY) scripts/dev.py run

test: $(STAMP)
	$(PY) scripts/dev.py test $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) scripts/dev.py bench

# The figures tables of docs/performance.md, from the runs kept in bench/results/published/.
perf-doc: $(STAMP)
	$(PY) scripts/perf_doc.py

# ruff; import-linter for the app layers (pyproject.toml [tool.importlinter]); mypy with the
# Django and DRF stubs (pyproject.toml [tool.mypy]; needs no database or Redis).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# bandit on our code (config in pyproject.toml); pip-audit on every pinned package
# (constraints.txt holds the whole resolved tree of requirements.txt), through a script that
# says "NOT CHECKED" rather than success when pip-audit could not audit some packages (its
# vulnerability service unreachable); SECURITY_AUDIT_REQUIRED=1 makes that a failure.
security: $(STAMP)
	$(VENV)/bin/bandit -q -c pyproject.toml -r .
	$(PY) scripts/dependency_audit.py -- $(VENV)/bin/pip-audit --disable-pip --no-deps \
		--progress-spinner off -r constraints.txt

services: $(STAMP)
	@$(PY) scripts/dev.py services

stop: $(STAMP)
	$(PY) scripts/dev.py stop

messages: $(STAMP)
	$(PY) scripts/dev.py manage makemessages -l zh_Hans --ignore=.venv --ignore=.data
	$(PY) scripts/dev.py manage compilemessages -l zh_Hans --ignore=.venv

clean-data:
	$(PY) scripts/dev.py clean-data
