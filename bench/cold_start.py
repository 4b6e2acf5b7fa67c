"""Cold start of every function: importing its handler module, as a ratio to `import boto3` in the same run.

Each import runs in a fresh interpreter (`python -c "import functions.<name>.handler"`) with the
environment a Lambda gets (the function's variables, dummy credentials, an AWS endpoint nobody is
called on), timed as a whole process (wall clock, and the CPU time the process used, which a busy
machine disturbs far less), several times in turn with `import boto3` as the baseline, so both see the
same machine load. The ratio is median over median; the target (on CPU time) is at most 2.0.

The whole process includes the interpreter's exit, which Lambda never runs (it freezes or ends an
environment without it), and whose garbage collection grows with what the import made. So each import is
also timed alone: the same process ending with os._exit right after the import ("import alone" columns).

    .venv/bin/python bench/cold_start.py [--runs 7] [--detail job_api]

--detail NAME prints that handler's slowest imports (python -X importtime, cumulative microseconds),
which is where to look when a ratio is over the target.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from bench_support import REPO, clean_env

TARGET_RATIO = 2.0
MISSED_TARGET = 3  # exit status when a ratio is over the target (1 stays "the script failed")


def lambda_env() -> dict[str, str]:
    from jobsched import config
    from jobsched_local.aws_emulator import FAKE_CREDENTIALS
    from jobsched_local.lambda_functions import function_env

    env = clean_env()
    env.update(function_env(config.PRIMARY_REGION, config.REGIONS))
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    # What the stacks set on schedule-sync beyond the common variables (values only need to parse).
    queue = f"arn:aws:sqs:{config.PRIMARY_REGION}:123456789012:jobsched-executions"
    env.setdefault("EXECUTION_QUEUE_ARN", queue)
    env.setdefault("SCHEDULER_DLQ_ARN", queue + "-dlq")
    env.setdefault("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/jobsched-scheduler")
    env["PYTHONPATH"] = str(REPO)
    # The measured imports read the .pyc files the warm-up import wrote (writes_bytecode). A deployed layer
    # ships none (docs/benchmarks.md, "Cold start"), so these figures leave out compiling from source.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def writes_bytecode(env: dict[str, str]) -> dict[str, str]:
    """`env` without PYTHONDONTWRITEBYTECODE: Python reads any value of it, "0" too, as "do not write"."""
    return {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}


def handler_modules() -> list[str]:
    return sorted(
        f"functions.{path.parent.name}.handler" for path in (REPO / "functions").glob("*/handler.py")
    )


def time_import(module: str, env: dict[str, str], exit_at_once: bool = False) -> tuple[float, float]:
    """(wall ms, CPU ms) of one whole interpreter process importing `module`; with `exit_at_once`, the
    process ends right after the import, without the interpreter's exit (its final collection)."""
    code = f"import os, {module}; os._exit(0)" if exit_at_once else f"import {module}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=REPO)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def measure(runs: int) -> bool:
    env = lambda_env()
    modules = handler_modules()
    for module in ["boto3", *modules]:  # once each first: compiles .pyc files and warms the page cache
        time_import(module, writes_bytecode(env))
    walls: dict[str, list[float]] = {module: [] for module in ["boto3", *modules]}
    cpus: dict[str, list[float]] = {module: [] for module in walls}
    alone: dict[str, list[float]] = {module: [] for module in walls}  # CPU ms, without the exit
    for _ in range(runs):
        for module in walls:
            wall, cpu = time_import(module, env)
            walls[module].append(wall)
            cpus[module].append(cpu)
            alone[module].append(time_import(module, env, exit_at_once=True)[1])
    median = statistics.median
    base_wall, base_cpu, base_alone = median(walls["boto3"]), median(cpus["boto3"]), median(alone["boto3"])
    header = f"{'import':<40} {'wall ms':>8} {'ratio':>6} {'CPU ms':>8} {'ratio':>6}"
    print(f"{header} {'import alone: CPU ms':>21} {'ratio':>6}   (medians of {runs}, interleaved)")
    base = f"{base_wall:8.1f} {1.0:6.2f} {base_cpu:8.1f} {1.0:6.2f} {base_alone:21.1f} {1.0:6.2f}"
    print(f"{'boto3':<40} {base}")
    within = True
    for module in modules:
        wall, cpu, cpu_alone = median(walls[module]), median(cpus[module]), median(alone[module])
        ratio = cpu / base_cpu
        within = within and ratio <= TARGET_RATIO
        flag = "" if ratio <= TARGET_RATIO else f"   over the {TARGET_RATIO:.1f}x target"
        print(
            f"{module:<40} {wall:8.1f} {wall / base_wall:6.2f} {cpu:8.1f} {ratio:6.2f}"
            f" {cpu_alone:21.1f} {cpu_alone / base_alone:6.2f}{flag}"
        )
    return within


def detail(name: str, top: int = 25) -> None:
    module = f"functions.{name}.handler"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=lambda_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, package = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), int(own), package.rstrip()))
    print(f"\nslowest imports of {module} (cumulative us, own us):")
    for cumulative, own, package in sorted(rows, reverse=True)[:top]:
        print(f"{cumulative:>9} {own:>8}  {package}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="timed imports of each module")
    parser.add_argument("--detail", metavar="NAME", help="print the slowest imports of functions/NAME")
    args = parser.parse_args()
    within = measure(args.runs)
    if args.detail:
        detail(args.detail)
    return 0 if within else MISSED_TARGET


if __name__ == "__main__":
    sys.exit(main())
