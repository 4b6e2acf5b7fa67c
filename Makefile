# The two commands: `make run` (local runtime) and `make test` (every check). Both set everything up first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
REGION ?=
PRIMARY_REGION := us-east-1
CDK := npx --no-install cdk

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup run java test fuzz lint typecheck pytest synth diff deploy pipeline bench openapi cost clean

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(BIN)/.installed node_modules/.installed

run: setup java
	$(BIN)/jobsched local

# DynamoDB Local (the local runtime's tables) needs Java 17 or later.
java:
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1); \
	if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
		echo "make run needs Java 17 or later for DynamoDB Local (found: $${v:-no java})." >&2; \
		echo "Install it with: sudo apt-get install openjdk-17-jre-headless" >&2; exit 1; \
	fi

test: setup lint typecheck synth pytest

# Contract fuzz of the running local runtime (schemathesis, >= 2,000 calls), in a network namespace that has
# only loopback, so the jobs it creates cannot call anywhere. .ci/run calls it after `make test`.
fuzz: setup
	unshare -rn sh -c 'PATH="$$PATH:/usr/sbin:/sbin"; ip link set lo up && $(BIN)/python tests/fuzz/contract_fuzz.py'

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Strict (pyproject.toml) over every package of runtime code: domain, handlers, infra, local runtime, CLI.
typecheck: setup
	$(BIN)/mypy layers/jobsched functions infra local cli

pytest: setup
	$(BIN)/pytest --cov --cov-report=term tests

synth: setup
	$(CDK) synth --quiet

diff: setup
	@test -n "$(REGION)" || { echo "usage: make diff REGION=<region>" >&2; exit 2; }
	$(CDK) diff jobsched-data-$(PRIMARY_REGION) jobsched-$(REGION)

deploy: setup
	@test -n "$(REGION)" || { echo "usage: make deploy REGION=<region>" >&2; exit 2; }
	$(CDK) deploy --require-approval broadening jobsched-data-$(PRIMARY_REGION)
	$(CDK) deploy --require-approval broadening jobsched-$(REGION)

# The release pipeline (infra/stacks/pipeline_stack.py) in the pipeline account, once; it then updates
# itself from the repository. Needs cdk.json's "pipeline" context (docs/operations.md, "Release pipeline").
pipeline: setup
	$(CDK) deploy --require-approval broadening jobsched-pipeline

openapi: setup
	$(BIN)/python -m jobsched_local.openapi

# Prices the synthesized templates at infra/cost/load_profile.json; prints every line, writes docs/cost.md.
cost: setup
	$(BIN)/python -m infra.cost.cost_model --markdown docs/cost.md

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage
