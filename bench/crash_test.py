"""Crash test of the local runtime: kill -9 in the middle of a write burst, restart, count what was lost.

    .venv/bin/python bench/crash_test.py [--writers 4] [--outage 60] [--fire-jobs 20] [--rate-jobs 5]
                                         [--seed N]

1. Starts `jobsched local` on free loopback ports with a fresh state dir and a local webhook receiver.
2. Creates jobs whose fires fall due while the runtime will be down: one-time at() jobs due between the
   latest kill moment and the earliest restart, and rate(1 minute) jobs; every fire calls the receiver,
   which counts deliveries per (job, scheduled time).
3. Sends a burst of creates, updates (PUT with If-Match) and deletes from several threads, and runs
   `jobsched keys create` during it; at a random moment (4-12 s in) it kill -9s the runtime.
4. Waits out the outage, restarts on the same state dir, and checks every acknowledged write:
   each 201'd job exists, each 200'd update is there (version at least the acknowledged one), each
   204'd delete stays deleted, the key made during the burst works. It then waits for the fires and
   counts those that ran 0 times or 2+ times.
5. Run-now during the burst: one thread runs a quick job now and then (POST /jobs/{id}/run), another a
   job whose target takes SLOW_TARGET_SECONDS to answer, so that some run is in flight at the kill. After
   the restart every run answered 202 must run exactly once (the quick job: one execution record,
   ended, and one delivery) and no run of either job may be left `running`.
Target: 0 of each. It prints the figures and stops everything it started.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench_support import free_port, request

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
KEY = re.compile(r"jsk_[A-Za-z0-9_-]+")
STARTUP_LIMIT = 180.0
SLOW_TARGET_SECONDS = 3.0
ENDED = ("succeeded", "failed", "skipped")


class Receiver:
    """The webhook target: counts deliveries per (job id, scheduled time)."""

    def __init__(self) -> None:
        self.deliveries: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = (self.headers["x-jobsched-job-id"], self.headers["x-jobsched-scheduled-time"])
                with receiver.lock:
                    receiver.deliveries[key] += 1
                if self.path.startswith("/slow"):
                    time.sleep(SLOW_TARGET_SECONDS)  # a run still in flight when the runtime is killed
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def counts(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter(self.deliveries)


class Runtime:
    def __init__(self, state_dir: Path, receiver_port: int) -> None:
        self.state_dir = state_dir
        self.receiver_port = receiver_port
        self.port = free_port()
        self.aws_port = free_port()
        self.log = state_dir.parent / "runtime.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until /health answers; returns the startup time in seconds."""
        started = time.monotonic()
        command = [
            str(VENV_BIN / "jobsched"),
            "local",
            "--port",
            str(self.port),
            "--aws-port",
            str(self.aws_port),
            # The receiver is on loopback, which jobs may call only where the runtime allows it.
            "--allow-target",
            f"127.0.0.1:{self.receiver_port}",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--state-dir", str(self.state_dir)], cwd=REPO, env=env, stdout=log, stderr=log
            )
        while time.monotonic() - started < STARTUP_LIMIT:
            if self.process.poll() is not None:
                raise SystemExit(f"the runtime exited early; see {self.log}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"the runtime did not start within {STARTUP_LIMIT:.0f} s; see {self.log}")

    def demo_key(self) -> str:
        found = [line for line in self.log.read_text(errors="replace").splitlines() if "Demo API key" in line]
        match = KEY.search(found[-1]) if found else None
        if match is None:
            raise SystemExit(f"no demo key in {self.log}")
        return match.group(0)

    def create_key(self, tenant: str) -> str | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{self.aws_port}"
        command = [str(VENV_BIN / "jobsched"), "keys", "create", "--tenant", tenant, "--tier", "premium"]
        result = subprocess.run(
            [*command, "--role", "admin"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        return result.stdout.splitlines()[-1] if result.returncode == 0 and result.stdout else None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Acknowledged:
    created: set[str] = field(default_factory=set)
    updated: dict[str, int] = field(default_factory=dict)  # job id -> version acknowledged
    deleted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def burst_job(n: int) -> dict[str, Any]:
    return {
        "name": f"burst {n}",
        "schedule": {"expression": "rate(7 days)"},
        "target": {"url": "https://hooks.example.com/x"},
    }


def writer(port: int, key: str, seed: int, acks: Acknowledged, stop: threading.Event) -> None:
    """Creates, and now and then updates or deletes one of its own jobs, until the runtime is gone."""
    rng = random.Random(seed)
    mine: dict[str, int] = {}
    n = 0
    while not stop.is_set():
        n += 1
        try:
            choice = rng.random()
            if mine and choice < 0.2:
                job_id = rng.choice(list(mine))
                body = {**burst_job(n), "name": f"updated {n}"}
                status, reply = request(
                    port, "PUT", f"/api/v1/jobs/{job_id}", key, body, {"If-Match": f'"{mine[job_id]}"'}
                )
                if status == 200:
                    mine[job_id] = int(reply["version"])
                    with acks.lock:
                        acks.updated[job_id] = mine[job_id]
            elif mine and choice < 0.3:
                job_id = rng.choice(list(mine))
                status, _ = request(port, "DELETE", f"/api/v1/jobs/{job_id}", key)
                if status == 204:
                    del mine[job_id]
                    with acks.lock:
                        acks.deleted.add(job_id)
            else:
                status, reply = request(port, "POST", "/api/v1/jobs", key, burst_job(n))
                if status == 201:
                    mine[reply["job_id"]] = int(reply["version"])
                    with acks.lock:
                        acks.created.add(reply["job_id"])
        except OSError:
            return  # the runtime is gone: what was not answered was not acknowledged


@dataclass
class RunNows:
    """Run-nows answered 202: job id -> execution ids."""

    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job_id: str, execution_id: str) -> None:
        with self.lock:
            self.acknowledged.setdefault(job_id, []).append(execution_id)

    def count(self) -> int:
        with self.lock:
            return sum(len(ids) for ids in self.acknowledged.values())


def run_job(port: int, key: str, receiver: int, name: str, path: str) -> str:
    body = {
        "name": name,
        "schedule": {"expression": "rate(7 days)"},
        "target": {"url": f"http://127.0.0.1:{receiver}{path}"},
        "retry_policy": {"max_attempts": 1},
    }
    status, reply = request(port, "POST", "/api/v1/jobs", key, body)
    if status != 201:
        raise SystemExit(f"could not create the {name} job: {status} {reply}")
    return str(reply["job_id"])


def runner(port: int, key: str, job_id: str, every: float, runs: RunNows, stop: threading.Event) -> None:
    """Runs the job now, again and again, until the runtime is gone."""
    while not stop.wait(every):
        try:
            status, reply = request(port, "POST", f"/api/v1/jobs/{job_id}/run", key)
        except OSError:
            return
        if status == 202:
            runs.add(job_id, str(reply["execution_id"]))


def check_runs(
    port: int, key: str, runs: RunNows, quick_job: str, receiver: Receiver, timeout: float
) -> dict[str, int]:
    """Wait until every acknowledged run has ended, then count what ran 0 or 2+ times or is still running."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        for job_id, ids in runs.acknowledged.items():
            for execution_id in ids:
                if records.get((job_id, execution_id), {}).get("status") in ENDED:
                    continue
                status, reply = request(port, "GET", f"/api/v1/executions/{job_id}/{execution_id}", key)
                if status == 200:
                    records[(job_id, execution_id)] = reply
        pending = [k for k in records if records[k].get("status") not in ENDED]
        missing = runs.count() - len(records)
        if (not pending and not missing) or time.monotonic() > deadline:
            break
        time.sleep(1)
    counts = receiver.counts()
    quick = [r for (job_id, _), r in records.items() if job_id == quick_job]
    return {
        "never": runs.count()
        - len(records)
        + sum(1 for r in quick if r.get("status") in ENDED and counts[(quick_job, r["scheduled_at"])] == 0),
        "twice": sum(1 for r in quick if counts[(quick_job, r["scheduled_at"])] >= 2),
        "running": sum(1 for r in records.values() if r.get("status") not in ENDED),
        "ended": sum(1 for r in records.values() if r.get("status") in ENDED),
    }


def fire_jobs(port: int, key: str, receiver: int, due: list[datetime], rate_jobs: int) -> dict[str, str]:
    """Jobs whose fires fall due during the outage; returns job id -> expression."""
    made: dict[str, str] = {}
    expressions = [f"at({t.strftime('%Y-%m-%dT%H:%M:%S')})" for t in due] + ["rate(1 minute)"] * rate_jobs
    for i, expression in enumerate(expressions):
        body = {
            "name": f"fire {i}",
            "schedule": {"expression": expression, "timezone": "UTC"},
            "target": {"url": f"http://127.0.0.1:{receiver}/hook/{i}"},
        }
        status, reply = request(port, "POST", "/api/v1/jobs", key, body)
        if status != 201:
            raise SystemExit(f"could not create fire job {expression}: {status} {reply}")
        made[reply["job_id"]] = expression
    return made


def expected_fires(port: int, key: str, jobs: dict[str, str], until: datetime) -> set[tuple[str, str]]:
    """Every (job, scheduled time) that should have run by `until`: at() once; rate every minute."""
    expected: set[tuple[str, str]] = set()
    for job_id, expression in jobs.items():
        _, job = request(port, "GET", f"/api/v1/jobs/{job_id}", key)
        if expression.startswith("at("):
            at = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            expected.add((job_id, at.strftime("%Y-%m-%dT%H:%M:%SZ")))
            continue
        created = datetime.fromisoformat(job["created_at"].replace("Z", "+00:00"))
        fire = created + timedelta(
            minutes=1
        )  # a rate counts from its creation; its first fire is one period on
        while fire <= until:
            # The scheduler's <aws.scheduler.scheduled-time> has whole seconds.
            expected.add((job_id, fire.strftime("%Y-%m-%dT%H:%M:%SZ")))
            fire += timedelta(minutes=1)
    return expected


def check_writes(port: int, key: str, acks: Acknowledged) -> dict[str, int]:
    lost_creates = lost_updates = resurrected = 0
    for job_id in acks.created - acks.deleted:
        status, job = request(port, "GET", f"/api/v1/jobs/{job_id}", key)
        if status != 200:
            lost_creates += 1
        elif job_id in acks.updated and int(job["version"]) < acks.updated[job_id]:
            lost_updates += 1
    for job_id in acks.deleted:
        if request(port, "GET", f"/api/v1/jobs/{job_id}", key)[0] != 404:
            resurrected += 1
    return {"lost_creates": lost_creates, "lost_updates": lost_updates, "lost_deletes": resurrected}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the runtime stays down")
    parser.add_argument("--fire-jobs", type=int, default=20, help="at() jobs due during the outage")
    parser.add_argument("--rate-jobs", type=int, default=5, help="rate(1 minute) jobs")
    parser.add_argument("--kill-between", type=float, nargs=2, default=(4.0, 12.0), metavar=("MIN", "MAX"))
    parser.add_argument("--rate-minutes", type=float, default=2.5, help="how long the rate jobs are watched")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)

    receiver = Receiver()
    receiver.thread.start()
    workdir = Path(tempfile.mkdtemp(prefix="jobsched-crash-"))
    runtime = Runtime(workdir / "state", receiver.port)
    try:
        first_start = runtime.start()
        key = runtime.demo_key()
        kill_min, kill_max = args.kill_between
        burst_start = datetime.now(UTC) + timedelta(seconds=3)
        # Due after the latest kill and before the earliest restart: every one falls in the outage.
        window = max(kill_min + args.outage - kill_max - 2, 0.0)
        due = [
            burst_start + timedelta(seconds=kill_max + 1 + window * i / max(args.fire_jobs, 1))
            for i in range(args.fire_jobs)
        ]
        fires = fire_jobs(
            runtime.port, key, receiver.port, [d.replace(microsecond=0) for d in due], args.rate_jobs
        )

        quick_job = run_job(runtime.port, key, receiver.port, "run now", "/run")
        slow_job = run_job(runtime.port, key, receiver.port, "run now, slow target", "/slow")
        acks = Acknowledged()
        runs = RunNows()
        stop = threading.Event()
        writers = [
            threading.Thread(target=writer, args=(runtime.port, key, seed + i, acks, stop))
            for i in range(args.writers)
        ] + [
            threading.Thread(target=runner, args=(runtime.port, key, quick_job, 0.5, runs, stop)),
            threading.Thread(target=runner, args=(runtime.port, key, slow_job, 2.0, runs, stop)),
        ]
        for thread in writers:
            thread.start()
        made_key: list[str | None] = []
        cli = threading.Thread(target=lambda: made_key.append(runtime.create_key("crash-cli")))
        cli.start()
        kill_after = rng.uniform(kill_min, kill_max)
        time.sleep(kill_after)
        runtime.kill()
        stop.set()
        for thread in writers:
            thread.join()
        cli.join()
        time.sleep(args.outage)

        restart = runtime.start()
        writes = check_writes(runtime.port, key, acks)
        cli_key = made_key[0] if made_key else None
        key_works = cli_key is not None and request(runtime.port, "GET", "/api/v1/jobs", cli_key)[0] == 200
        run_counts = check_runs(runtime.port, key, runs, quick_job, receiver, timeout=120)

        # Fires: every at() fire, and the rate fires until the rate jobs have been watched long enough.
        settle_until = max(datetime.now(UTC), burst_start + timedelta(minutes=args.rate_minutes))
        while datetime.now(UTC) < settle_until:
            time.sleep(1)
        expected = expected_fires(runtime.port, key, fires, settle_until)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            counts = receiver.counts()
            if all(counts[f] >= 1 for f in expected):
                break
            time.sleep(1)
        time.sleep(5)  # room for a duplicate to show up
        counts = receiver.counts()
        never = sorted(f for f in expected if counts[f] == 0)
        twice = sorted(f for f, n in counts.items() if n >= 2 and f[0] in fires)

        print(f"seed {seed}; killed {kill_after:.1f} s into the burst; down {args.outage:.0f} s + restart")
        print(f"startup: first {first_start:.1f} s, restart after kill -9 {restart:.1f} s")
        made = "yes" if cli_key else "no (the kill came first)"
        print(
            f"acknowledged: {len(acks.created)} creates, {len(acks.updated)} updates, "
            f"{len(acks.deleted)} deletes; key made during the burst: {made}"
        )
        print(
            f"missing after restart: {writes['lost_creates']} creates, {writes['lost_updates']} updates, "
            f"{writes['lost_deletes']} deletes undone; key made during the burst works: "
            f"{key_works if cli_key else 'n/a'}"
        )
        print(
            f"fires expected: {len(expected)} ({args.fire_jobs} at() due during the outage, "
            f"{len(expected) - args.fire_jobs} rate(1 minute)); "
            f"ran 0 times: {len(never)}; ran 2+ times: {len(twice)}"
        )
        print(
            f"run-now answered 202: {runs.count()} ({len(runs.acknowledged.get(quick_job, []))} quick, "
            f"{len(runs.acknowledged.get(slow_job, []))} with a {SLOW_TARGET_SECONDS:.0f} s target); "
            f"ended: {run_counts['ended']}; ran 0 times: {run_counts['never']}; quick ones ran 2+ times: "
            f"{run_counts['twice']}; left running: {run_counts['running']}"
        )
        for job_id, scheduled in never[:10]:
            print(f"  never ran: {job_id} {fires[job_id]} at {scheduled}")
        for job_id, scheduled in twice[:10]:
            print(f"  ran {counts[(job_id, scheduled)]} times: {job_id} at {scheduled}")
        failed = sum(writes.values()) + len(never) + len(twice) + (0 if key_works or not cli_key else 1)
        failed += run_counts["never"] + run_counts["twice"] + run_counts["running"]
        return 0 if failed == 0 else 1
    finally:
        runtime.stop()
        receiver.server.shutdown()
        print(f"state and log: {workdir}")


if __name__ == "__main__":
    sys.exit(main())
