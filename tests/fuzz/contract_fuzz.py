"""Contract fuzz: schemathesis against the running local runtime, from the committed docs/openapi.json.

Starts `jobsched local` on free loopback ports with a fresh state dir and no allowed targets (so every
job the fuzz creates can only point at public hosts, and there is no public DNS or route in the network
namespace `make fuzz` runs this in), then runs schemathesis with the demo key (premium tier) and fails when
it finds a server error or a contract violation, or when the gateway served fewer calls than asked.

    make fuzz                                      # inside `unshare -rn`: a network with loopback only
    .venv/bin/python tests/fuzz/contract_fuzz.py [--min-calls 2000] [--max-examples 50] [--seed 1]

The gateway logs one line per request it answers ("METHOD path status ms"); the calls and any 5xx are
counted there, independently of schemathesis' own report.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
CONTRACT = REPO / "docs" / "openapi.json"
KEY = re.compile(r"jsk_[A-Za-z0-9_-]+")
REQUEST_LINE = re.compile(r"jobsched_local\.gateway: (?P<method>[A-Z]+) (?P<path>\S*) (?P<status>\d{3}) ")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
# The demo key is premium: 28 requests/s steady. Staying under it keeps most calls past the throttle;
# the 429s that remain are part of the contract too (Retry-After, the gateway's JSON body).
RATE_LIMIT = "25/s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_runtime(state_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port, aws_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "JOBSCHED_ALLOW_TARGETS"}
    command = [
        str(VENV_BIN / "python"),
        "-m",
        "jobsched_cli.main",
        "local",
        "--port",
        str(port),
        "--aws-port",
        str(aws_port),
        "--state-dir",
        str(state_dir),
    ]
    with log_path.open("wb") as log:
        runtime = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = KEY.search(log_path.read_text(errors="replace"))
        if found and _healthy(port):
            return runtime, port, found.group(0)
        if runtime.poll() is not None:
            raise SystemExit(f"the runtime exited early:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)
    runtime.kill()
    raise SystemExit(f"the runtime did not start:\n{log_path.read_text(errors='replace')}")


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def stop_runtime(runtime: subprocess.Popen[bytes]) -> None:
    if runtime.poll() is None:
        runtime.send_signal(signal.SIGTERM)
        try:
            runtime.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runtime.kill()


def run_schemathesis(port: int, key: str, args: argparse.Namespace, report_dir: Path) -> int:
    command = [
        str(VENV_BIN / "schemathesis"),
        "run",
        str(CONTRACT),
        "--url",
        f"http://127.0.0.1:{port}",
        "--header",
        f"x-api-key: {key}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        str(args.seed),
        # One worker: hypothesis parses lambdas' source with `ast` while drawing, and CPython 3.11's
        # parser is not safe across threads ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--rate-limit",
        RATE_LIMIT,
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    # Run from the work dir: schemathesis keeps a cache of crashes in its working directory.
    return subprocess.run(command, cwd=report_dir.parent, check=False).returncode


def summarize(log_text: str) -> tuple[int, Counter[int], list[str]]:
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    for match in REQUEST_LINE.finditer(log_text):
        status = int(match["status"])
        statuses[status] += 1
        if status >= 500:
            server_errors.append(match.group(0))
    return sum(statuses.values()), statuses, server_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--min-calls", type=int, default=2000, help="fail below this many calls")
    parser.add_argument("--max-examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis seed (reproducible runs)")
    parser.add_argument("--keep", action="store_true", help="keep the state dir, log and report")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="jobsched-fuzz-"))
    log_path = work / "runtime.log"
    runtime, port, key = start_runtime(work / "state", log_path)
    started = time.monotonic()
    try:
        code = run_schemathesis(port, key, args, work / "report")
    finally:
        stop_runtime(runtime)
    elapsed = time.monotonic() - started
    calls, statuses, server_errors = summarize(log_path.read_text(errors="replace"))
    by_status = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    print(f"contract fuzz: {calls} calls in {elapsed:.0f} s ({by_status}); schemathesis exit {code}")
    problems = []
    if code != 0:
        problems.append("schemathesis found failures (above)")
    if server_errors:
        problems.append(f"{len(server_errors)} server errors: {server_errors[:5]}")
    if calls < args.min_calls:
        problems.append(f"only {calls} calls; at least {args.min_calls} wanted (raise --max-examples)")
    if problems or args.keep:
        print(f"runtime log and report kept in {work}")
    if problems:
        print("contract fuzz FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
