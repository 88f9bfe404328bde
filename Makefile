# litellm-gateway: the two commands of the README's Quickstart, and a few helpers.
#   make render [STACK=local|dev|dev-ha|kube]  evaluate the program offline, write build/<stack>/, print the tree
#   make test    the whole suite; prepares the machine first (Debian packages as root, PostgreSQL and
#                Redis on 127.0.0.1, the offline Prisma engine): nothing to run before it
#   make check   the fast tier: no process, no socket (pytest -m "not slow"), about 2 minutes
#   make plan STACK=x [BASE=<git ref or build dir>]  the steps `pulumi up` would take from BASE (default
#                HEAD) to the working tree, offline, as markdown (creates/updates/replaces/deletes,
#                host restarts in rollout order, catalog changes)
#   make lock VERSION=v  the hashed lock locks/litellm-<v>.lock a stack needs to deploy LiteLLM v
#   make keys STACK=x  the stack's virtual keys (expired / expiring within 30 days marked; spend too when
#                LITELLM_GATEWAY_ADMIN_URL and LITELLM_GATEWAY_MASTER_KEY reach the proxy)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STACK ?= local
BIN := $(VENV)/bin

.PHONY: render plan keys test check prepare bench clean venv lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One venv (the one Pulumi.yaml names): the program's pins, then the test pins on top.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt $(VENV)/.runtime-installed
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	@touch $@

venv: $(VENV)/.test-installed

render: $(VENV)/.runtime-installed
	$(BIN)/python -m offline.render $(STACK)

plan: $(VENV)/.runtime-installed
	$(BIN)/python -m offline.plan $(STACK) $(if $(BASE),--base $(BASE))

keys: $(VENV)/.runtime-installed
	$(BIN)/python -m offline.keys $(STACK)

# PostgreSQL, Redis, Debian packages, the offline Prisma engine (tests/support/prepare_machine.sh).
prepare: $(VENV)/.test-installed
	bash tests/support/prepare_machine.sh $(BIN)/python

check: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not slow" -q

# The fast tier first (fails fast, under its no-process guard), then everything else: the real
# systemd hosts alongside the rest (tests/support/run_slow_tier.sh); the ten slowest tests of each
# are listed at the end.
test: prepare
	$(BIN)/python -m pytest -m "not slow" -q
	bash tests/support/run_slow_tier.sh $(BIN)/python

bench: $(VENV)/.test-installed
	$(BIN)/python bench/bench_providers.py
	$(BIN)/python bench/bench_gateway.py
	$(BIN)/python bench/bench_rollout.py

# The hashed lock of one LiteLLM release, locks/litellm-$(VERSION).lock (a stack may deploy only a
# release with a lock: config.litellm_locks): litellm[proxy]==$(VERSION) plus the other pins of
# requirements-host.in, resolved from PyPI for this machine's platform (CPython 3.11, Linux x86_64;
# wheels only, --require-hashes on the hosts), with pip-tools in a throwaway venv.
lock: $(VENV)/.runtime-installed
	@$(BIN)/python -m config.litellm_locks check-new "$(VERSION)"
	rm -rf build/piptools && $(PYTHON) -m venv build/piptools
	build/piptools/bin/pip install --quiet pip-tools==7.5.2
	mkdir -p locks build/lock
	{ echo 'litellm[proxy]==$(VERSION)'; cat requirements-host.in; } > build/lock/litellm-$(VERSION).in
	PIP_CONFIG_FILE=/dev/null build/piptools/bin/pip-compile --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple \
	  --pip-args "--only-binary=:all:" -o locks/litellm-$(VERSION).lock build/lock/litellm-$(VERSION).in

clean:
	rm -rf build .pytest_cache
