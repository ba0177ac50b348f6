# One command sets up and runs; one sets up and tests. Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run test test-fast test-model test-system eval train context-bench

setup: $(VENV)/.installed

# torch is pinned and installed first: it comes from the CPU build on local disk,
# where any other request would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# The service on its embedded default: SQLite in ./casenotes-data, the packaged model,
# the default rubric, and the demo clients (loading them again adds nothing). The admin token
# is kept in casenotes-data/admin-token (mode 0600, never committed) and reused while it works.
run: setup
	HF_HUB_OFFLINE=1 $(BIN)/casenotes demo
	@TOKEN=$$($(BIN)/casenotes token ensure --role admin --name make-run --file casenotes-data/admin-token) && \
		echo "admin token for the API and /ui (kept in casenotes-data/admin-token): $$TOKEN"
	@echo "review UI: http://127.0.0.1:8000/ui   API docs: http://127.0.0.1:8000/docs"
	HF_HUB_OFFLINE=1 $(BIN)/casenotes serve --host 127.0.0.1 --port 8000

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop, the unit tier: no real model (loading it is an error here), nothing marked
# slow, and nothing of tests/system (marked `system` throughout). Two pytest-xdist processes:
# most of its time is spent waiting on databases made and dropped per test.
test-fast: setup
	CASENOTES_NO_MODEL=1 HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not model and not system" -q -n 2 $(PYTEST_ARGS)

# The model tier: the tests that read with the real packaged model (slow ones included).
test-model: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "model and not system" $(PYTEST_ARGS)

# The system tier: live `casenotes serve` processes, worker processes, crash recovery, Ray.
test-system: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/system $(PYTEST_ARGS)

eval: setup
	HF_HUB_OFFLINE=1 $(BIN)/casenotes eval eval/data/by-writer/test.jsonl --report eval/reports/by-writer-test

train: setup
	HF_HUB_OFFLINE=1 $(BIN)/casenotes train --data eval/data/by-writer/train.jsonl --train-reader --reader-folds 3 --out casenotes/resources/models/casenotes-heads.json

context-bench: setup
	bash eval/context/setup_peers.sh
	$(BIN)/python eval/context/bench.py
