# The two commands of the README: `make demo` (the main job) and `make test` (the whole gate).
# Both build what they need from nothing: the virtual environment, the database server, the schema.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# onnxruntime-gpu where a GPU is visible, the CPU build otherwise (never both: they clash).
ORT_EXTRA := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP := $(VENV)/.installed-$(ORT_EXTRA)

.PHONY: demo test db venv lint typecheck unit db-stop db-destroy clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned to the build this machine carries, so nothing pulls a CUDA wheel.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[$(ORT_EXTRA),train,dev]"
	rm -f $(VENV)/.installed-*
	touch $@

# Server up (unless DATABASE_URL points at an existing one) and migrations applied. Idempotent.
db: $(STAMP)
	@if [ -z "$$DATABASE_URL" ]; then bash scripts/db_server.sh up; fi
	$(PY) -m scripts.migrate upgrade

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

# pytest's exit code 5 (no test collected) is a failure too.
test: db lint typecheck
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo 'no tests collected' >&2; exit 1; fi; exit $$rc

demo: db
	$(PY) -m scripts.demo

db-stop:
	bash scripts/db_server.sh stop

db-destroy:
	bash scripts/db_server.sh destroy

clean:
	rm -rf $(VENV) build *.egg-info
