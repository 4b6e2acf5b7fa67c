"""The release smoke test's run-now wait: a run not yet recorded is waited for, a failed one fails."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "smoke_test.py"
_spec = importlib.util.spec_from_file_location("smoke_test", SCRIPT)
assert _spec is not None and _spec.loader is not None
smoke = importlib.util.module_from_spec(_spec)
sys.modules["smoke_test"] = smoke
_spec.loader.exec_module(smoke)


class ScriptedApi:
    """Answers the smoke test's calls; GETs of the execution answer in the order given."""

    def __init__(self, execution_replies: list[tuple[int, Any]]) -> None:
        self.execution_replies = execution_replies
        self.calls: list[tuple[str, str]] = []
        self.deleted = False
        self.name = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.calls.append((method, path))
        if path == "/health":
            return smoke.Reply(200, {"status": "ok"})
        if method == "POST" and path == "/api/v1/jobs":
            self.name = (body or {})["name"]
            return smoke.Reply(201, {"job_id": "job_1", "name": self.name})
        if method == "POST" and path.endswith("/run"):
            return smoke.Reply(202, {"execution_id": "exe_1"})
        if method == "DELETE":
            self.deleted = True
            return smoke.Reply(204, None)
        if path.startswith("/api/v1/executions/"):
            return smoke.Reply(*self.execution_replies.pop(0))
        if self.deleted:
            return smoke.Reply(404, None)
        return smoke.Reply(200, {"job_id": "job_1", "name": self.name})


def test_a_run_not_yet_recorded_is_waited_for_until_it_succeeds() -> None:
    api = ScriptedApi([(404, None), (200, {"status": "running"}), (200, {"status": "succeeded"})])
    lines: list[str] = []

    smoke.run(api, "https://hooks.example.com/smoke", log=lines.append, sleep=lambda _: None)

    assert [line.split()[1] for line in lines] == ["health", "create", "read", "run-now", "delete"]
    assert api.deleted


def test_a_failed_run_fails_the_smoke_test_and_the_job_is_still_deleted() -> None:
    api = ScriptedApi([(404, None), (200, {"status": "failed"})])

    with pytest.raises(smoke.SmokeFailure, match="did not succeed"):
        smoke.run(api, "https://hooks.example.com/smoke", log=lambda _: None, sleep=lambda _: None)
    assert api.deleted
