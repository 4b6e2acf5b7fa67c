"""Through `jobsched local`: a job's success runs the jobs in its on_success, once, with the parent named."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import Receiver, create_job, demo_key, finished, receiver, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here


def test_a_success_runs_the_chained_job_with_trigger_chain(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    child = create_job(runtime, key, receiver, "rate(1 day)")
    parent = create_job(runtime, key, receiver, "rate(1 day)", on_success=[child["job_id"]])
    assert parent["on_success"] == [child["job_id"]]

    run = call(runtime.port, "POST", f"/api/v1/jobs/{parent['job_id']}/run", key=key)
    assert run.status == 202
    [chained] = wait_for(lambda: finished(runtime, key, child["job_id"], 1), "the chained run")
    assert (chained["trigger"], chained["status"]) == ("chain", "succeeded")
    assert chained["parent_execution_id"] == run.body["execution_id"]
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[1].headers["x-jobsched-trigger"] == "chain"


def test_a_chain_to_nothing_or_back_to_itself_is_a_422(runtime: RuntimeProcess, receiver: Receiver) -> None:
    key = demo_key(runtime)
    first = create_job(runtime, key, receiver, "rate(1 day)")
    second = create_job(runtime, key, receiver, "rate(1 day)", on_success=[first["job_id"]])
    body = {
        "name": "loop",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook"},
    }
    missing = call(
        runtime.port, "POST", "/api/v1/jobs", key=key, body={**body, "on_success": ["job_" + "0" * 26]}
    )
    assert missing.status == 422
    assert [d["field"] for d in missing.body["error"]["details"]] == ["on_success.0"]
    cycle = call(
        runtime.port,
        "PUT",
        f"/api/v1/jobs/{first['job_id']}",
        key=key,
        body={**body, "on_success": [second["job_id"]]},
    )
    assert cycle.status == 422
    assert [d["field"] for d in cycle.body["error"]["details"]] == ["on_success"]
    _, other = runtime.create_key("chain-intruders", "basic", role="admin")
    foreign = call(
        runtime.port, "POST", "/api/v1/jobs", key=other, body={**body, "on_success": [first["job_id"]]}
    )
    assert foreign.status == 422
