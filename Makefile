# Two commands on a fresh machine: `make demo` and `make test`. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
JAR := build/libs/pyflink-dependencies.jar
JAVA_SOURCES := $(shell find connectors/java -name '*.java' 2>/dev/null)
# MSF's Python, as build.gradle names it for the zip's dependencies (one place says it)
MSF_PYTHON := $(shell sed -n "s/^ *msfPythonVersion = '\(.*\)'/\1/p" build.gradle)

.PHONY: help system venv jars native native-msf package demo test test-fast test-cluster bench evaluate synth lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

system:  ## Debian packages: JDK 17, Gradle (Debian's 4.4.1), Node.js (for CDK), Chromium (report tests), gcc (make native)
	@missing=""; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v gradle >/dev/null || missing="$$missing gradle"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,infra]"
	@touch $@

venv: $(VENV)/.installed  ## Python venv with the pinned dependencies

$(JAR): build.gradle settings.gradle $(JAVA_SOURCES) | system venv
	gradle --no-daemon -q uberJar localPlugins

jars: $(JAR)  ## the one jar (Kinesis source, gzip writer, AWS SDK) + the local S3 filesystem plugin

# localdev.native rebuilds only when a source differs from what its modules were built from
native: system venv  ## the detection core compiled by mypyc (same source, ~4x faster; undo: python -m localdev.native --clean)
	$(PY) -m localdev.native

native-msf: system venv  ## the same for MSF's Python (3.12) if this machine has one; the zip ships it
	$(PY) -m localdev.native --python $(MSF_PYTHON)

package: system venv jars native-msf  ## the MSF zip -> build/dist/iot-anomaly-flink.zip (see docs/deploy.md)
	gradle --no-daemon -q msfZip

demo: system venv jars native  ## the main job end to end on local AWS (moto), with a summary
	$(VENV)/bin/iot-anomaly demo

test: system venv jars native native-msf  ## the whole test suite: the connectors' JUnit tests, then pytest
	gradle --no-daemon -q test
	$(PY) -m pytest -q -p no:cacheprovider tests

test-fast:  ## only the pure-Python tests (no JVM, no emulator)
	$(PY) -m pytest -q tests/unit

test-cluster: system venv jars native  ## a standalone Flink cluster (JM + TMs): TaskManager loss, rescaling
	$(PY) -m pytest -q -p no:cacheprovider -m cluster tests/cluster

bench: system venv jars native  ## throughput benchmarks (pipeline replay and detectors)
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_detectors.py

evaluate: venv native  ## NAB + Tennessee Eastman evaluation -> build/reports/{nab,tep}.json and index.html
	$(PY) -m flink_job.evaluation.nab_run
	$(PY) -m flink_job.evaluation.tep_run
	$(PY) -m flink_job.evaluation.report

synth: venv  ## CDK synthesis offline -> infra/cdk.out/*.template.json
	$(PY) infra/app.py

lint: venv  ## ruff
	$(VENV)/bin/ruff check .

clean:  ## remove build outputs (keeps the venv)
	rm -rf build infra/cdk.out .pytest_cache
	test ! -x $(PY) || $(PY) -m localdev.native --clean
