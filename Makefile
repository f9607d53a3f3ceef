# The two commands a newcomer runs are `make demo` and `make test`; CI runs `make test` via .ci/run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint system-deps clean

$(BIN)/otelbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## demo: diagnose "why no spanmetrics" on the bundled sample cluster (exit 1 there means "problem found")
demo: $(BIN)/otelbot
	$(BIN)/otelbot demo || [ $$? -eq 1 ]

## system-deps: install Debian's prometheus and redis-server where missing (the tests start them)
system-deps:
	@missing=""; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		echo "installing$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

## test: run the whole test suite against local servers
test: $(BIN)/otelbot system-deps
	$(BIN)/python -m pytest

## bench: run the benchmarks in bench/ and print their results
bench: $(BIN)/otelbot system-deps
	$(BIN)/python -m bench

lint: $(BIN)/otelbot
	$(BIN)/otelbot playbooks lint

clean:
	rm -rf $(VENV) .pytest_cache
