"""A function's start (its handler module's import) runs no garbage collection, and leaves the collector on
with what the start made frozen (docs/decisions.md, "No garbage collection while a function starts").

Each module is imported first thing in a fresh interpreter with a function's environment, as Lambda does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobsched import config
from jobsched_local.aws_emulator import FAKE_CREDENTIALS
from jobsched_local.lambda_functions import function_env

REPO = Path(__file__).resolve().parents[2]
HANDLERS = sorted(path.parent.name for path in (REPO / "functions").glob("*/handler.py"))

PROBE = """
import gc, json
gc.collect()  # the interpreter's own start leaves the counters anywhere: from zero, as in a fresh runtime
before = [generation["collections"] for generation in gc.get_stats()]
import {module}
after = [generation["collections"] for generation in gc.get_stats()]
print(json.dumps({{
    "enabled": gc.isenabled(),
    "collections": [a - b for a, b in zip(after, before)],
    "frozen": gc.get_freeze_count(),
}}))
"""


def _environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(function_env(config.PRIMARY_REGION, config.REGIONS))
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing is called at import; nothing may reach AWS
    queue = f"arn:aws:sqs:{config.PRIMARY_REGION}:123456789012:jobsched-executions"
    env.setdefault("EXECUTION_QUEUE_ARN", queue)
    env.setdefault("SCHEDULER_DLQ_ARN", queue + "-dlq")
    env.setdefault("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/jobsched-scheduler")
    env["PYTHONPATH"] = str(REPO)
    return env


def test_every_function_is_covered() -> None:
    assert "job_api" in HANDLERS and "executor" in HANDLERS and len(HANDLERS) == 13


@pytest.mark.parametrize("name", HANDLERS)
def test_a_start_collects_no_garbage_and_leaves_the_collector_on(name: str) -> None:
    module = f"functions.{name}.handler"
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        env=_environment(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.splitlines()[-1])

    # At most one young collection, before the module's first line runs (loading its own code allocates),
    # and none of the older generations, which traverse everything the start has made so far.
    young, middle, old = state["collections"]
    assert (middle, old) == (0, 0) and young <= 1
    assert state["enabled"] is True  # requests run with the collector on
    assert state["frozen"] > 10_000  # the modules, classes and models of the start
