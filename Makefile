# The two commands of the README: `make up` (whole system locally) and `make test` (every test).
UV := python3 -m uv
PY_SOURCES := contracts/src libs/crmkit/src services/attentions/src services/tickets/src services/web/src \
	services/notifications/src services/reports/src services/factelec-sync/src

.PHONY: setup up test lint typecheck pytest bench contracts-docs

setup:
	@scripts/setup.sh

up: setup
	$(UV) run python deploy/local/stack.py

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy $(PY_SOURCES) tests benchmarks deploy

pytest:
	$(UV) run pytest

test: setup lint typecheck pytest

contracts-docs: setup
	$(UV) run python -m crmkit.contract_docs write

bench: setup
	$(UV) run python benchmarks/run.py
