# The two commands: `make run` (the broker on its defaults) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
DIST   ?= dist

.PHONY: two-nodes run test lint typecheck pytest format clean help dist bench bench-quick plot crash-test crash-test-quick attack attack-quick

help:
	@echo "make run    start the broker on tcp://127.0.0.1:5555 (PUB 5556), history in the user data dir"
	@echo "make two-nodes  two broker nodes on one Redis (needs redis-server), to try docs/scaling.md"
	@echo "make test   install what the tests need into $(VENV), then ruff, mypy and pytest"
	@echo "make dist   build a wheel into $(DIST)/ to install elsewhere: pip install $(DIST)/zmqchat-*.whl"
	@echo "make bench  run the benchmarks against their baselines (~20 min); see docs/performance.md"
	@echo "make bench-quick  a two-minute smoke run of the same benchmarks"
	@echo "make crash-test   kill -9 the broker 20 times under load, count what was lost (~1.5 min)"
	@echo "make crash-test-quick  the same with 3 kills (~15 s; make test runs it too)"
	@echo "make attack  hostile peers against a broker with a bystander, one row each (~6 min)"
	@echo "make attack-quick  the short form (~1 min; make test runs it too)"
	@echo "make format reformat the code with ruff"
	@echo "make clean  remove $(VENV) and caches"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "zmqchat needs Python 3.11 or newer; try make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed

# The broker runs in a process group of its own (scripts/foreground.py), so Ctrl-C
# stops it alone: make then sees it exit 0 instead of being interrupted itself (130).
run: $(VENV)/.installed
	@echo $(BIN)/zmqchat broker $(ARGS)
	@$(BIN)/python scripts/foreground.py $(BIN)/zmqchat broker $(ARGS)

$(VENV)/.installed-redis: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[redis]'
	@touch $@ $(VENV)/.installed

# Two nodes on one Redis, on this machine (scripts/two_nodes.py): issue 17's engine
# to try, as docs/scaling.md tells. Ctrl-C stops Redis and both nodes.
two-nodes: $(VENV)/.installed-redis
	@$(BIN)/python scripts/foreground.py $(BIN)/python scripts/two_nodes.py $(ARGS)

# A wheel of this checkout, for machines without it (`pip install` it there; pip
# fetches the dependencies). Not committed: dist/ is in .gitignore.
dist: | $(BIN)/python
	rm -rf build $(DIST)/zmqchat-*.whl
	$(PIP) wheel --no-deps -w $(DIST) .
	rm -rf build
	@ls $(DIST)/zmqchat-*.whl

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks examples scripts crash attack
	$(BIN)/ruff format --check src tests benchmarks examples scripts crash attack

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The behaviour suite once more with each broker a node of the Redis engine, alone
# on a redis-server of its own, accounts included (tests/conftest.py; issue 17;
# tests/cluster has the tests of several nodes): every file of tests/integration
# that exercises the broker through the protocol, about 105 s with -n 2 on the
# 2-core VM. Left out, as nothing of theirs depends on the engine: the front ends
# and client side (console, GUI, pty, chat controller, aio, bot, the file/edit/
# oneshot-text CLIs, client_connect, max_events, failover's endpoint lists over
# independent brokers, file_cancel's Ctrl-C racing a 1.6 s paced transfer),
# broker_memory's page faults, SQLite's own file (store_faults, store_lock,
# store_permissions), tcpdump (curve_capture) and the make targets.
ENGINE_TESTS = $(addprefix tests/integration/test_, $(addsuffix .py, \
	requests edit_events forgetting private_rooms members_only moderation mailbox \
	accounts search_with_cli files file_delivery file_resume file_concurrency paging \
	restart broker_signals processes search_commands controller_days broker_command \
	peer_budgets routing_ids curve limits oneshot_rooms script_commands))

# Two workers (each its own brokers: the pytest plugin), except the short forms of
# make attack and make crash-test, which time a bystander and must have the machine
# to themselves: 7.8 min instead of 11.6 on the 2-core VM.
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n 2 --ignore=tests/attack --ignore=tests/crash $(PYTEST_ARGS)
	$(BIN)/pytest tests/attack tests/crash $(PYTEST_ARGS)
	ZMQCHAT_TEST_ENGINE=redis $(BIN)/pytest -n 2 $(ENGINE_TESTS)

test: lint typecheck pytest

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[bench]'
	@touch $@ $(VENV)/.installed

# Benchmarks are not tests: they take minutes, want a quiet machine, and report
# figures (docs/performance.md) instead of pass/fail on timing.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.plot

bench-quick: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks --quick $(BENCH_ARGS)

# Not a benchmark either, but a proof: exits 1 when anything acknowledged was lost,
# reused or shown twice (docs/crash-test.md). CRASH_ARGS="--seed N" repeats a run's choices.
# Then 200 SIGTERM/SIGINT stops, each just after a client left (make test runs 20).
crash-test: $(VENV)/.installed-dev
	$(BIN)/python -m crash $(CRASH_ARGS)
	ZMQCHAT_SIGNAL_LOOPS=200 $(BIN)/pytest -q -p no:cacheprovider -s tests/integration/test_broker_signals.py

crash-test-quick: $(VENV)/.installed
	$(BIN)/python -m crash --quick $(CRASH_ARGS)

# Issue 14's hostile peers, each against a fresh broker with an open-file limit of 1024
# and a bystander: exits 1 when a row misses a goal (docs/attack.md).
# ATTACK_ARGS="--only fuzz --seed 7" picks rows and repeats the fuzz frames.
attack: $(VENV)/.installed-dev
	$(BIN)/python -m attack $(ATTACK_ARGS)

attack-quick: $(VENV)/.installed
	$(BIN)/python -m attack --quick $(ATTACK_ARGS)

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix src tests benchmarks examples scripts crash attack
	$(BIN)/ruff format src tests benchmarks examples scripts crash attack

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info
