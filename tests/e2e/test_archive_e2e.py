"""The archive through `jobsched local`: `jobsched archive run` moves finished history out of the table into
the archive folder, and the Executions API still returns it, flagged as archived, by page and by id."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobsched.execution.archive import decode
from tests.e2e.conftest import REPO_ROOT, RuntimeProcess, call, clean_env
from tests.e2e.test_execution_e2e import Receiver, demo_key, receiver, run_once

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, used by name


def archive_run(runtime: RuntimeProcess, older_than: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent))
    command = [
        sys.executable,
        "-m",
        "jobsched_cli.main",
        "archive",
        "run",
        "--older-than",
        older_than,
        "--state-dir",
        str(runtime.state_dir),
    ]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_archived_history_is_read_back_through_the_api(runtime: RuntimeProcess, receiver: Receiver) -> None:
    key = demo_key(runtime)
    job, execution_id = run_once(runtime, key, receiver)

    kept = archive_run(runtime, "30d")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("archived 0 executions")
    moved = archive_run(runtime, "0s")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.startswith("archived 1 executions of 1 jobs")

    objects = list((runtime.state_dir / "archive" / "executions").rglob("*.jsonl.gz"))
    assert len(objects) == 1 and objects[0].parent.name == job["job_id"]
    assert [record["execution_id"] for record in decode(objects[0].read_bytes())] == [execution_id]

    page = call(runtime.port, "GET", f"/api/v1/executions/{job['job_id']}", key=key)
    assert page.status == 200, page.body
    assert [(i["execution_id"], i["archived"]) for i in page.body["items"]] == [(execution_id, True)]
    assert page.body["next_token"] is None
    one = call(runtime.port, "GET", f"/api/v1/executions/{job['job_id']}/{execution_id}", key=key)
    assert (one.status, one.body["archived"], one.body["status"]) == (200, True, "succeeded")
