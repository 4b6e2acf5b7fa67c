"""Worker processes of the local runtime: a handler module from the tests, run as Lambda runs functions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobsched_local.function_pool import (
    FunctionError,
    FunctionPool,
    FunctionStartError,
    WorkerLost,
    WorkerSpec,
    launch_pools,
    wait_until_ready,
    worker_env,
)
from jobsched_local.lambda_context import LambdaContext, make_context
from jobsched_local.lambda_functions import function_env
from jobsched_local.shifted_clock import CLOCK_FILE_ENV, write_offset

REPO_ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "http://127.0.0.1:4599"
HANDLER_MODULE = "tests.support.pool_handler"
ROUNDING = 0.001  # seconds: float rounding of the test clock's travel destination


def spec(module: str = HANDLER_MODULE) -> WorkerSpec:
    env = worker_env(function_env("us-east-1", ("us-east-1",)), ENDPOINT, base=os.environ)
    return WorkerSpec("pool_test", module, env)


@pytest.fixture
def pool() -> Iterator[FunctionPool]:
    started = FunctionPool(spec(), size=2, warm=2)
    started.start()
    yield started
    started.stop()


def context() -> LambdaContext:
    return make_context("pool_test", "us-east-1")


def test_an_invocation_runs_in_a_worker_with_the_function_env_and_the_context(pool: FunctionPool) -> None:
    given = context()
    answer = pool({"action": "echo", "n": 1}, given)
    assert answer["event"] == {"action": "echo", "n": 1}
    assert answer["pid"] in pool.pids() and answer["pid"] != os.getpid()
    assert answer["function_name"] == given.function_name == "jobsched-pool-test"
    assert answer["request_id"] == given.aws_request_id
    assert 0 < answer["remaining_ms"] <= given.get_remaining_time_in_millis() + 50
    assert answer["endpoint"] == ENDPOINT
    assert answer["table"] == function_env("us-east-1", ("us-east-1",))["JOBS_TABLE_NAME"]
    assert answer["access_key"] == "testing"


def test_each_worker_imports_its_module_once_and_serves_call_after_call(pool: FunctionPool) -> None:
    answers = [pool({"action": "echo"}, context()) for _ in range(6)]
    per_worker: dict[int, list[int]] = {}
    for answer in answers:
        per_worker.setdefault(answer["pid"], []).append(answer["invocations"])
    assert set(per_worker) <= set(pool.pids())
    for counts in per_worker.values():
        assert counts == list(range(counts[0], counts[0] + len(counts)))  # one module, counting up


def test_a_handler_exception_is_a_function_error_with_lambdas_message_and_the_worker_stays(
    pool: FunctionPool,
) -> None:
    pids = sorted(pool.pids())
    with pytest.raises(FunctionError) as raised:
        pool({"action": "raise", "value": 7}, context())
    assert str(raised.value) == "refused 7"
    assert raised.value.error_type == "ValueError"
    assert "pool_handler.py" in raised.value.stack
    assert not isinstance(raised.value, WorkerLost)
    assert sorted(pool.pids()) == pids
    assert pool({"action": "echo"}, context())["event"] == {"action": "echo"}


def test_a_result_that_cannot_travel_is_a_function_error(pool: FunctionPool) -> None:
    with pytest.raises(FunctionError):
        pool({"action": "unpicklable"}, context())
    assert pool({"action": "echo"}, context())["event"] == {"action": "echo"}


def test_a_crashed_worker_fails_its_call_and_is_replaced(pool: FunctionPool) -> None:
    before = set(pool.pids())
    with pytest.raises(WorkerLost, match="exited"):
        pool({"action": "crash"}, context())
    # The replacement cold-starts in the background; the pool keeps serving meanwhile.
    assert pool({"action": "echo"}, context())["event"] == {"action": "echo"}
    replaced = wait_for(lambda: len(pool.pids()) == 2 and set(pool.pids()) != before)
    assert replaced, pool.pids()
    lost = before - set(pool.pids())
    assert len(lost) == 1
    answers = {pool({"action": "echo"}, context())["pid"] for _ in range(8)}
    assert answers <= set(pool.pids()) and not answers & lost


def test_a_call_that_overruns_its_time_is_timed_out_and_the_worker_replaced() -> None:
    pool = FunctionPool(spec(), size=1)
    pool.start()
    try:
        (old,) = pool.pids()
        short = LambdaContext(function_name="f", invoked_function_arn="arn", timeout_seconds=0.5)
        with pytest.raises(WorkerLost, match="Task timed out"):
            pool({"action": "hang"}, short)
        answer = pool({"action": "echo"}, context())  # waits for the replacement's cold start
        assert answer["pid"] != old
    finally:
        pool.stop()


def test_a_pool_grows_on_demand_to_its_size_and_its_workers_run_calls_at_the_same_time(
    tmp_path: Path,
) -> None:
    size = 3
    pool = FunctionPool(spec(), size=size, warm=1)
    pool.start()
    assert len(pool.pids()) == 1
    results: list[dict[str, Any]] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    pool({"action": "meet", "dir": str(tmp_path), "expect": size}, context())
                )
            )
            for _ in range(size)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        grown = pool.pids()
    finally:
        pool.stop()
    # Each invocation saw all three running at once (one-at-a-time would have let the first see only itself).
    assert [r["seen"] for r in results] == [size] * size
    assert len({r["pid"] for r in results}) == size == len(grown)


def test_a_pool_never_grows_past_its_size(tmp_path: Path) -> None:
    pool = FunctionPool(spec(), size=2, warm=1)
    pool.start()
    results: list[dict[str, Any]] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: results.append(
                    pool({"action": "meet", "dir": str(tmp_path), "expect": 2}, context())
                )
            )
            for _ in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(results) == 5
        assert len(pool.pids()) == 2
        assert len({r["pid"] for r in results}) == 2
    finally:
        pool.stop()


def test_a_module_that_does_not_import_fails_the_start() -> None:
    pool = FunctionPool(spec("tests.support.no_such_handler"), size=1)
    with pytest.raises(FunctionStartError, match="no_such_handler"):
        pool.start()
    pool.stop()


def test_stop_ends_every_worker(pool: FunctionPool) -> None:
    pids = pool.pids()
    pool.stop()
    assert wait_for(lambda: not any(alive(pid) for pid in pids))


def test_launch_pools_skips_functions_that_are_not_written_yet() -> None:
    env = worker_env(function_env("us-east-1", ("us-east-1",)), ENDPOINT)
    pools = launch_pools(["health", "no_such_function"], env, size=1)
    try:
        wait_until_ready(pools.values())
        assert list(pools) == ["health"]
        answer = pools["health"](
            {"path": "/health", "httpMethod": "GET"}, make_context("health", "us-east-1")
        )
        assert answer["statusCode"] == 200
    finally:
        for started in pools.values():
            started.stop()


def test_workers_do_not_outlive_a_killed_runtime(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    script = textwrap.dedent(
        f"""
        import time
        from jobsched_local.function_pool import FunctionPool, WorkerSpec, worker_env
        pool = FunctionPool(WorkerSpec("p", {HANDLER_MODULE!r}, worker_env({{}}, {ENDPOINT!r})), size=2)
        pool.start()
        open({str(pid_file)!r}, "w").write(" ".join(map(str, pool.pids())))
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT)
    try:
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", limit=60)
        workers = [int(pid) for pid in pid_file.read_text().split()]
        assert all(alive(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_for(lambda: not any(alive(pid) for pid in workers))
    finally:
        if parent.poll() is None:
            parent.kill()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A worker that exited but was not reaped yet by its (dead) parent is a zombie: not alive.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(condition: Any, limit: float = 30.0) -> bool:
    """Poll until the condition holds, up to a bound; the bound is a safety net, not what is tested."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_a_call_waits_for_a_busy_worker_to_finish_rather_than_cold_start_another(tmp_path: Path) -> None:
    pool = FunctionPool(spec(), size=2, warm=1, grow_after=30.0)
    pool.start()
    answers: list[dict[str, Any]] = []
    try:
        busy = threading.Thread(
            target=lambda: answers.append(
                pool({"action": "meet", "dir": str(tmp_path), "expect": 2}, context())
            )
        )
        busy.start()
        while not any(tmp_path.iterdir()):  # the first call is running in the only worker
            time.sleep(0.01)
        waiting = threading.Thread(target=lambda: answers.append(pool({"action": "echo"}, context())))
        waiting.start()
        (tmp_path / "release").touch()  # the running call now sees two entries and returns
        busy.join(60)
        waiting.join(60)
        assert len(pool.pids()) == 1
    finally:
        pool.stop()
    assert len(answers) == 2
    assert answers[0]["pid"] == answers[1]["pid"]


def test_a_worker_told_dynamodb_locals_url_gets_it_in_its_environment() -> None:
    env = worker_env({}, ENDPOINT, base={}, dynamodb_url="http://127.0.0.1:4598")
    assert env["JOBSCHED_LOCAL_DYNAMODB_URL"] == "http://127.0.0.1:4598"
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert "JOBSCHED_LOCAL_DYNAMODB_URL" not in worker_env({}, ENDPOINT, base={})


def test_a_worker_on_a_clock_file_sees_each_new_offset_from_its_next_invocation(tmp_path: Path) -> None:
    clock_file = tmp_path / "clock.json"
    write_offset(clock_file, 3600)
    env = {**spec().env, CLOCK_FILE_ENV: str(clock_file)}
    clocked = FunctionPool(WorkerSpec("pool_test", HANDLER_MODULE, env), size=1, warm=1)
    clocked.start()
    try:
        for offset in (3600, 7200):
            write_offset(clock_file, offset)
            real_before = time.time()
            worker_time = clocked({"action": "echo"}, context())["time"]
            # the worker's clock is this process's (the real one) moved by the file's offset
            assert real_before + offset - ROUNDING <= worker_time <= time.time() + offset + ROUNDING
    finally:
        clocked.stop()
