# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8765

.PHONY: run test install migrate demo lint clean

$(BIN)/python:
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
	$(BIN)/python manage.py demo --simulator-url http://$(HOST):$(SIM_PORT)

run: demo
	@echo "Starting web on http://$(HOST):$(PORT)/ , worker, beat and simulator on $(HOST):$(SIM_PORT) (Ctrl-C stops all)"
	HOST=$(HOST) PORT=$(PORT) SIM_PORT=$(SIM_PORT) $(BIN)/honcho start -f Procfile

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf var/broker var/results var/celerybeat-schedule*
