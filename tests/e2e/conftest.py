"""The local runtime as a user runs it: a separate process on free ports, driven over HTTP and by the CLI."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from jobsched_local.shifted_clock import APPLIED_MESSAGE, write_offset

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_SECONDS = 120  # how long to wait for /health before giving up (a bound, not an assertion)
KEY_PATTERN = re.compile(r"jsk_[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any AWS settings (coverage's variables stay, to measure the child)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in {"PORT", "JOBSCHED_REGIONS"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    port: int,
    method: str,
    path: str,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {**(headers or {}), **({"x-api-key": key} if key is not None else {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if raw else None
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)
    finally:
        connection.close()


class RuntimeProcess:
    """`jobsched local` in a subprocess; its output goes to a file in the state dir's parent.

    With `test_clock` it runs on a clock file (--clock-file): `advance(seconds)` moves its time forward
    instead of a test waiting for the wall clock, and `now()` is its time as the test sees it."""

    def __init__(self, state_dir: Path, env: dict[str, str] | None = None, test_clock: bool = False) -> None:
        self.state_dir = state_dir
        self.env = env or {}  # settings the runtime and its functions read (e.g. BULK_INLINE_LIMIT)
        self.port = free_port()
        self.aws_port = free_port()
        # A loopback webhook receiver's port, allowed as a target (every other private target is refused).
        self.receiver_port = free_port()
        self.log = state_dir.parent / f"runtime-{self.port}.log"
        self.clock_file = state_dir.parent / f"clock-{self.port}.json" if test_clock else None
        self.offset_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def aws_client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client of the runtime's AWS endpoint (dummy credentials, as the CLI uses locally)."""
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.aws_endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def start(self) -> str:
        """Start and wait until /health answers; returns the demo key it printed."""
        ports = ["--port", str(self.port), "--aws-port", str(self.aws_port)]
        command = [
            sys.executable,
            "-m",
            "jobsched_cli.main",
            "local",
            *ports,
            "--state-dir",
            str(self.state_dir),
            "--allow-target",
            f"127.0.0.1:{self.receiver_port}",
            *(["--clock-file", str(self.clock_file)] if self.clock_file else []),
        ]
        printed_before = len(self._banner_lines())  # a restart appends to the same log
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=clean_env(**self.env), stdout=log, stderr=log
            )
        try:
            return self._wait_until_up(printed_before)
        except BaseException:
            # Whatever stopped the wait (a failed check, an error, an interrupt), no runtime outlives it:
            # the fixture that started it never reaches its teardown.
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait(timeout=60)
            raise

    def _wait_until_up(self, printed_before: int) -> str:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"runtime exited with {self._process.returncode}:\n{self.output()}")
            # Up means what a user waits for: /health answers and the banner (with the demo key) is printed;
            # the gateway serves /health a moment before the banner is written.
            demo = self._banner_lines()[printed_before:]
            try:
                if demo and call(self.port, "GET", "/health").status == 200:
                    break
            except (OSError, http.client.HTTPException, ValueError):
                pass  # not serving yet, or not yet whole: the deadline decides
            time.sleep(0.1)
        else:
            self.stop()
            pytest.fail(f"runtime did not answer /health and print its banner:\n{self.output()}")
        match = KEY_PATTERN.search(demo[-1])
        assert match, self.output()
        return match.group(0)

    def now(self) -> datetime:
        """The runtime's time: the wall clock plus its clock file's offset."""
        return datetime.now(UTC) + timedelta(seconds=self.offset_seconds)

    def advance(self, seconds: float) -> None:
        """Move the runtime's clock forward; returns once the runtime's process has applied the offset
        (its function workers apply it before their next invocation)."""
        assert self.clock_file is not None, "advance() needs a runtime started with test_clock=True"
        assert seconds > 0
        self.offset_seconds += seconds
        write_offset(self.clock_file, self.offset_seconds)
        applied = APPLIED_MESSAGE % f"{self.offset_seconds:g}"
        deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
        while applied not in self.output():
            if time.monotonic() > deadline:
                pytest.fail(f"the runtime did not apply its clock's offset:\n{self.output()}")
            time.sleep(0.05)

    def advance_to(self, when: datetime) -> None:
        """Move the runtime's clock to `when` unless it is there already."""
        ahead = (when - self.now()).total_seconds()
        if ahead > 0:
            self.advance(ahead)

    def stop(self) -> int:
        assert self._process is not None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            raise

    def kill(self) -> None:
        """kill -9: no signal handler runs, nothing is flushed or stopped cleanly."""
        assert self._process is not None
        self._process.kill()
        self._process.wait(timeout=60)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def _banner_lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if "Demo API key" in line]

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`jobsched keys ...` against this runtime, as on a fresh machine: no credentials, no AWS config."""
        env = clean_env(AWS_ENDPOINT_URL=self.aws_endpoint, HOME=str(self.state_dir.parent))
        command = [sys.executable, "-m", "jobsched_cli.main", "keys", *args]
        return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)

    def create_key(self, tenant: str, tier: str, role: str = "operator") -> tuple[str, str]:
        """(key id, key value) of a key made by the CLI."""
        result = self.keys("create", "--tenant", tenant, "--tier", tier, "--role", role)
        assert result.returncode == 0, result.stderr
        key_id = re.search(r"key_[a-z0-9]+", result.stdout)
        assert key_id, result.stdout
        return key_id.group(0), result.stdout.splitlines()[-1]


def running(tmp_path_factory: pytest.TempPathFactory, test_clock: bool = False) -> Iterator[RuntimeProcess]:
    process = RuntimeProcess(tmp_path_factory.mktemp("runtime") / "state", test_clock=test_clock)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    yield from running(tmp_path_factory)


@pytest.fixture(scope="module")
def clocked_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeProcess]:
    """A runtime on a test clock, for a module whose `runtime` fixture returns this one."""
    yield from running(tmp_path_factory, test_clock=True)
