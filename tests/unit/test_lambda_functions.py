"""Handlers in the local runtime run one invocation at a time per function, as a Lambda environment does."""

from __future__ import annotations

import threading
from typing import Any

from jobsched.functions import FunctionEnvironment
from jobsched_local.lambda_functions import LOCAL_ACCOUNT_ID, function_env, one_at_a_time


def test_invocations_of_one_function_never_overlap() -> None:
    inside = 0
    peak = 0
    counter_lock = threading.Lock()
    first_inside = threading.Event()
    release = threading.Event()
    results: list[Any] = []

    def handler(event: Any, context: Any) -> Any:
        nonlocal inside, peak
        with counter_lock:
            inside += 1
            peak = max(peak, inside)
        first_inside.set()
        release.wait(10)
        with counter_lock:
            inside -= 1
        return {"echo": event}

    wrapped = one_at_a_time(handler)
    threads = [threading.Thread(target=lambda i=i: results.append(wrapped(i, None))) for i in range(4)]
    for thread in threads:
        thread.start()
    assert first_inside.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert peak == 1
    assert sorted(r["echo"] for r in results) == [0, 1, 2, 3]


def test_runtime_logs_are_not_deduplicated_away() -> None:
    assert function_env("us-east-1", ("us-east-1",))["POWERTOOLS_LOG_DEDUPLICATION_DISABLED"] == "true"


def test_functions_get_the_allow_list_and_the_runtimes_own_ports_but_no_blanket_allowance() -> None:
    env = function_env("us-east-1", ("us-east-1",), ["127.0.0.1:9000", "localhost:9001"], (8080, 4566))
    assert (env["ALLOW_TARGETS"], env["RESERVED_TARGET_PORTS"]) == (
        "127.0.0.1:9000,localhost:9001",
        "8080,4566",
    )
    assert "ALLOW_PRIVATE_TARGETS" not in env


def test_local_functions_get_the_declared_environment_with_local_values() -> None:
    env = function_env("eu-west-1", ("us-east-1", "eu-west-1"))
    declared = FunctionEnvironment(
        regions=("us-east-1", "eu-west-1"),
        service_account_id=LOCAL_ACCOUNT_ID,
        allow_http_targets=True,
        metrics_flush_seconds=0,
    ).variables()
    assert {name: env[name] for name in declared} == declared
    assert set(env) - set(declared) == {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "ALLOW_TARGETS",
        "RESERVED_TARGET_PORTS",
        "POWERTOOLS_TRACE_DISABLED",
        "POWERTOOLS_LOG_DEDUPLICATION_DISABLED",
    }
    assert (env["AWS_REGION"], env["JOBSCHED_REGIONS"]) == ("eu-west-1", "us-east-1,eu-west-1")


def test_local_api_functions_write_their_request_metrics_at_every_invocation() -> None:
    assert function_env("us-east-1", ("us-east-1",))["METRICS_FLUSH_SECONDS"] == "0"
    deployed = FunctionEnvironment(regions=("us-east-1",), service_account_id="", allow_http_targets=False)
    assert deployed.variables()["METRICS_FLUSH_SECONDS"] == "60"
