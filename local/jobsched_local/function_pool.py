"""Functions run in worker processes, a few per function, each serving one invocation at a time.

This is how Lambda runs a function: execution environments, each importing the handler once and then
serving one invocation after another, as many in parallel as the load needs. Locally, a pool starts one
such worker per function and adds more as calls overlap, up to a bound, so handlers run in parallel on
every core instead of taking turns on the runtime's one interpreter lock.

A worker starts with the function's environment, dummy credentials and AWS_ENDPOINT_URL pointing at the
runtime's AWS endpoint (it is a separate process, outside the runtime's in-process emulator, so it
reaches AWS over HTTP as a Lambda does); its DynamoDB calls go straight to DynamoDB Local
(dynamodb_direct.py). A pool is a `Handler`: the gateway calls it like a module's
`handler(event, context)`. An invocation waits for an idle worker; a handler's exception comes back as
`FunctionError` carrying Lambda's error message; a worker that dies or overruns the function's timeout is
killed, its call fails with `WorkerLost` (a `FunctionError`), and a fresh worker takes its place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from jobsched_local.lambda_context import LambdaContext

LOG = logging.getLogger(__name__)
WORKERS_ENV = "JOBSCHED_LOCAL_WORKERS"
# DynamoDB Local's URL: the worker sends its DynamoDB calls there itself, with the commit barrier.
DIRECT_DYNAMODB_ENV = "JOBSCHED_LOCAL_DYNAMODB_URL"
START_TIMEOUT_SECONDS = 120.0  # a cold start on a busy two-core machine; a bound, not an expectation
STOP_GRACE_SECONDS = 5.0
# A call that finds no idle worker first waits this long for one to finish before the pool adds a worker:
# a cold start costs about a second of CPU, and on two cores most overlaps end within a few milliseconds.
GROW_AFTER_SECONDS = 0.05


class FunctionError(Exception):
    """The function failed (Lambda's "Unhandled" function error); str() is Lambda's errorMessage."""

    def __init__(self, message: str, error_type: str = "Exception", stack: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack = "".join(stack)


class FunctionStartError(RuntimeError):
    """A worker could not import its handler module (a broken function never starts serving)."""


def default_pool_size() -> int:
    """Most workers per function: four per core. A worker waits on DynamoDB for much of a call, so a
    function needs more workers than there are cores to keep the cores busy (Lambda, too, runs as many
    environments as rate x duration)."""
    return 4 * (os.cpu_count() or 1)


def context_fields(context: Any) -> dict[str, Any]:
    """What crosses into the worker of the caller's context: its names, ids and the time it has left."""
    if not isinstance(context, LambdaContext):
        context = LambdaContext(function_name="local", invoked_function_arn="")
    fields = {f.name: getattr(context, f.name) for f in dataclasses.fields(context) if f.init}
    fields.pop("_deadline", None)
    fields["timeout_seconds"] = max(context.get_remaining_time_in_millis() / 1000, 0.001)
    return fields


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a worker: the handler module and the whole environment of the process."""

    function: str
    module: str
    env: Mapping[str, str]


class Worker:
    """One worker process and the pipes to it."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        lifeline_read, self._lifeline = os.pipe()
        child_fds = (request_read, response_write, lifeline_read)
        try:
            # The command is this interpreter and a module name of ours, never input from a request.
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "jobsched_local.function_worker",
                    spec.module,
                    *map(str, child_fds),
                ],
                env=dict(spec.env),
                pass_fds=child_fds,
            )
        finally:
            for fd in child_fds:
                os.close(fd)
        self._requests = Connection(request_write, readable=False)
        self._responses = Connection(response_read, writable=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float) -> None:
        try:
            if not self._responses.poll(timeout):
                self.kill()
                raise FunctionStartError(f"{self.spec.function}: worker not ready within {timeout:.0f} s")
            kind, detail = self._responses.recv()
        except (EOFError, OSError):  # it died, or the pool stopped meanwhile
            self.kill()
            raise FunctionStartError(
                f"{self.spec.function}: worker exited with {self.process.returncode} at start"
            ) from None
        if kind != "ready":
            self.kill()
            raise FunctionStartError(f"{self.spec.function}: cannot import {self.spec.module}:\n{detail}")

    def invoke(self, event: Any, fields: dict[str, Any]) -> Any:
        """One invocation; FunctionError for the handler's exception; WorkerLost if the worker is gone."""
        timeout = float(fields["timeout_seconds"])
        try:
            self._requests.send((event, fields))
            if not self._responses.poll(timeout):
                self.kill()
                raise WorkerLost(f"Task timed out after {timeout:.2f} seconds")
            kind, detail = self._responses.recv()
        except (EOFError, OSError):
            code = self.process.wait()
            raise WorkerLost(f"the function's worker process exited (code {code})") from None
        if kind == "error":
            raise FunctionError(detail["errorMessage"], detail["errorType"], detail["stackTrace"])
        return detail

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Close the pipes (the worker exits when it reads their end), kill it if it lingers."""
        for connection in (self._requests, self._responses):
            connection.close()
        _close_quietly(self._lifeline)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class WorkerLost(FunctionError):
    """The worker died or timed out during the call; the pool replaces it."""


class FunctionPool:
    """A function's workers, callable as its handler: `pool(event, context)`.

    `warm` workers start with the pool; like Lambda, it adds a worker (a cold start) whenever a call
    finds none idle, up to `size`, and keeps it; unlike Lambda, only after `grow_after` seconds without
    one becoming idle, as a cold start here takes the CPU the running calls need. The call itself takes
    the first worker to become idle, new or freed, so a burst waits for a running call rather than for a
    cold start where it can.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        size: int,
        warm: int = 1,
        start_timeout: float = START_TIMEOUT_SECONDS,
        grow_after: float = GROW_AFTER_SECONDS,
    ) -> None:
        if not 1 <= warm <= size:
            raise ValueError("a pool needs 1 <= warm <= size workers")
        self.spec = spec
        self.size = size
        self.warm = warm
        self._start_timeout = start_timeout
        self._grow_after = grow_after
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._starting = 0
        self._pending: list[Worker] = []

    @property
    def function(self) -> str:
        return self.spec.function

    def launch(self) -> None:
        """Start the warm workers without waiting for their cold start (see wait_ready)."""
        self._pending.extend(self._spawn() for _ in range(self.warm))

    def wait_ready(self) -> None:
        pending, self._pending = self._pending, []
        for worker in pending:
            worker.wait_ready(self._start_timeout)
            self._idle.put(worker)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._all]

    def __call__(self, event: Any, context: Any) -> Any:
        worker = self._acquire(context_fields(context)["timeout_seconds"])
        # Like Lambda's own timeout, the function's time counts from when a worker starts the invocation.
        fields = context_fields(context)
        if isinstance(context, LambdaContext):
            fields["timeout_seconds"] = context.timeout_seconds
        try:
            result = worker.invoke(event, fields)
        except WorkerLost as lost:
            LOG.error("%s: worker %d lost during an invocation: %s", self.function, worker.pid, lost)
            self._replace(worker)
            raise
        except FunctionError:
            self._idle.put(worker)
            raise
        self._idle.put(worker)
        return result

    def _acquire(self, wait: float) -> Worker:
        try:
            return self._idle.get(timeout=min(self._grow_after, wait))
        except queue.Empty:
            self._grow()
        try:
            return self._idle.get(timeout=wait)
        except queue.Empty:
            raise FunctionError(f"no {self.function} worker became free within {wait:.0f} s") from None

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            workers = list(self._all)
            self._all.clear()
            self._pending = []
        for worker in workers:
            worker.stop()

    def _spawn(self) -> Worker:
        worker = Worker(self.spec)
        with self._lock:
            self._all.add(worker)
        return worker

    def _grow(self) -> None:
        with self._lock:
            if self._stopping or len(self._all) + self._starting >= self.size:
                return
            # Counted at once, before the process exists, so concurrent calls never overshoot the size.
            self._starting += 1
        threading.Thread(target=self._start_worker, name=f"{self.function}-grow", daemon=True).start()

    def _replace(self, lost: Worker) -> None:
        lost.kill()
        with self._lock:
            self._all.discard(lost)
        self._grow()

    def _start_worker(self) -> None:
        try:
            worker = Worker(self.spec)
        except OSError:
            LOG.exception("%s: cannot start a worker", self.function)
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            self._all.add(worker)
        try:
            worker.wait_ready(self._start_timeout)
        except FunctionStartError:
            with self._lock:
                self._all.discard(worker)
                stopping = self._stopping
            if not stopping:
                LOG.exception("%s: a new worker did not start", self.function)
            return
        with self._lock:
            stale = self._stopping
            if stale:
                self._all.discard(worker)
        if stale:
            worker.stop()
        else:
            self._idle.put(worker)


def worker_env(
    function_env: Mapping[str, str],
    aws_endpoint_url: str,
    base: Mapping[str, str] = os.environ,
    dynamodb_url: str | None = None,
) -> dict[str, str]:
    """A worker's whole environment: the runtime's (PATH, coverage settings) without AWS settings, then
    the function's own variables, dummy credentials and the runtime's AWS endpoint. With `dynamodb_url`
    the worker sends its DynamoDB calls straight there, each write confirmed stored (dynamodb_direct.py)."""
    from jobsched_local.aws_emulator import FAKE_CREDENTIALS
    from jobsched_local.lambda_functions import REPO_ROOT

    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update(function_env)
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = aws_endpoint_url
    if dynamodb_url is not None:
        env[DIRECT_DYNAMODB_ENV] = dynamodb_url
    # functions/ is at the repository root, next to the installed jobsched and jobsched_local packages.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), base.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def launch_pools(functions: Iterable[str], env: Mapping[str, str], size: int) -> dict[str, FunctionPool]:
    """A pool per function that exists (functions/<name>/handler.py), its workers cold-starting meanwhile;
    call `wait_until_ready` before the first invocation."""
    from jobsched_local.lambda_functions import handler_module_exists

    pools = {
        name: FunctionPool(WorkerSpec(name, f"functions.{name}.handler", env), size)
        for name in dict.fromkeys(functions)
        if handler_module_exists(name)
    }
    launched: list[FunctionPool] = []
    try:
        for pool in pools.values():
            pool.launch()
            launched.append(pool)
    except BaseException:
        stop_pools(launched)
        raise
    return pools


def wait_until_ready(pools: Iterable[FunctionPool]) -> None:
    pools = list(pools)
    try:
        for pool in pools:
            pool.wait_ready()
    except BaseException:
        stop_pools(pools)
        raise


def stop_pools(pools: Iterable[FunctionPool]) -> None:
    for pool in pools:
        pool.stop()


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
