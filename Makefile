# MedTech — 医疗技术管理系统. `make run` sets everything up and serves; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
SCALE ?= small
PO := app/translations/zh_Hans_CN/LC_MESSAGES/messages.po
MO := $(PO:.po=.mo)

.PHONY: install run test test-fast messages bench lint clean

install: $(VENV)/.installed node_modules/.installed $(MO)

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(MO): $(PO) $(VENV)/.installed
	$(BIN)/pybabel compile -d app/translations

run: install
	$(BIN)/medtech db upgrade
	$(BIN)/medtech demo --scale $(SCALE) --if-empty
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(BIN)/medtech run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not browser" --no-postgres -x -q

messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot app templates
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

bench: install
	$(BIN)/python bench/rules.py --quick

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules reports instance/*.db*
