# kconsume: every target sets up .venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
#: The broker of `make bench`: tansu (embedded) or kafka (Apache Kafka, needs java and mvn).
BROKER ?= tansu
#: The broker-facing tests `make test-kafka` runs against Apache Kafka.
KAFKA_TESTS ?= tests/integration

.PHONY: setup demo demo-headless test test-unit test-integration test-kafka kafka-jars test-tui test-snapshot-update lint format bench bench-exact bench-long chaos broker docs-screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kconsume needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup  ## the dashboard on the demo: embedded broker, sample orders, two streams
	$(VENV)/bin/kconsume demo $(ARGS)

demo-headless: setup  ## the same demo as text, no dashboard
	$(VENV)/bin/kconsume demo --headless $(ARGS)

test: setup  ## the whole suite: unit, property, integration (real broker)
	$(PY) -m pytest $(ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(ARGS)

test-integration: setup
	$(PY) -m pytest tests/integration $(ARGS)

test-kafka: setup kafka-jars  ## the broker-facing tests against Apache Kafka 4.x (needs java and mvn)
	KCONSUME_TEST_BROKER=kafka $(PY) -m pytest $(KAFKA_TESTS) $(ARGS)

kafka-jars: setup  ## fetch Apache Kafka's jars once with Maven into .cache/kafka/<version>/lib
	$(PY) -m tests.apache_kafka

test-tui: setup  ## the dashboard: Pilot tests and snapshots (no broker)
	$(PY) -m pytest tests/tui $(ARGS)

test-snapshot-update: setup  ## accept changed snapshots: look at snapshot_report.html first
	$(PY) -m pytest tests/tui --snapshot-update $(ARGS)

lint: setup
	$(VENV)/bin/ruff format --check kconsume tests bench chaos
	$(VENV)/bin/ruff check kconsume tests bench chaos
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format kconsume tests bench chaos
	$(VENV)/bin/ruff check --fix kconsume tests bench chaos

bench: setup  ## throughput ratios against a raw aiokafka loop, same run (BROKER=kafka: on Apache Kafka)
	$(PY) bench/run.py --broker $(BROKER) $(ARGS)

bench-exact: setup  ## consume -o beginning -e of 1,000,000 librdkafka records: exactly every line
	$(PY) bench/exact_end.py $(ARGS)

bench-long: setup  ## 2,000,000 records through one stream with one message held: peak RSS at 10% and 100%
	$(PY) bench/long_run.py $(ARGS)

chaos: setup  ## group consumers under 20+ seeded faults (kill, freeze, broker freeze, storms): nothing lost
	$(PY) chaos/run.py $(ARGS)

broker: setup
	$(VENV)/bin/kconsume broker $(ARGS)

docs-screenshots: setup  ## the SVGs of docs/dashboard.md, from the real demo (about a minute)
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis dist build snapshot_report.html
