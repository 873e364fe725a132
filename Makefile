# The two commands: `make run` and `make test`. Everything else is a helper for them.
# python3 if it is 3.11+, else the first python3.1x that is (override with `make PYTHON=/path/to/python3.x ...`).
PYTHON ?= $(or $(shell for p in python3 python3.13 python3.12 python3.11; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8765

.PHONY: run test install migrate demo lint clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "marketsync needs Python 3.11+; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py demo --simulator-url http://$(HOST):$(SIM_PORT) --site-url http://$(HOST):$(PORT)/

run: demo
	@echo "Starting web on http://$(HOST):$(PORT)/ , worker, beat and simulator on $(HOST):$(SIM_PORT) (Ctrl-C stops all)"
	HOST=$(HOST) PORT=$(PORT) SIM_PORT=$(SIM_PORT) $(BIN)/honcho start -f Procfile

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf var/broker var/results var/celerybeat-schedule*
