"""Cold start before and after a change, in one run: each handler of an earlier commit and of this tree.

bench/cold_start.py times this tree only, so two of its runs minutes apart see different machine load. This
script exports an earlier commit (`git archive REF`) and imports each function's handler from that copy and
from this tree in turn, with `import boto3` as the baseline, the way bench/cold_start.py does (a fresh
interpreter each time, a Lambda's environment, CPU time of the whole process, medians). Each tree gets the
environment its own code declares for a Lambda.

    .venv/bin/python bench/cold_start_compare.py --before b2e9556 [--runs 7]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench_support import REPO
from cold_start import TARGET_RATIO, handler_modules, lambda_env, writes_bytecode


def export(ref: str, into: Path) -> None:
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "archive", ref], cwd=REPO, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def env_of(tree: Path) -> dict[str, str]:
    """The Lambda environment `tree`'s own bench/cold_start.py builds, importing that tree's modules."""
    code = (
        "import json, sys; "
        f"sys.path[:0] = [{str(tree / 'bench')!r}, {str(tree / 'layers')!r}, {str(tree / 'local')!r}]; "
        "from cold_start import lambda_env; print(json.dumps(lambda_env()))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, text=True)
    env: dict[str, str] = json.loads(done.stdout)
    # Its own domain package, not the one this checkout's editable install points at.
    env["PYTHONPATH"] = f"{tree}:{tree / 'layers'}"
    return env


def cpu_ms(module: str, env: dict[str, str], cwd: Path) -> float:
    """CPU time (user + system) of one whole interpreter process importing `module`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def compare(ref: str, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cold-start-before-") as folder:
        old = Path(folder)
        export(ref, old)
        trees = {"before": (old, env_of(old)), "after": (REPO, lambda_env())}
        modules = handler_modules()
        cases = [("boto3", "after")] + [(module, tree) for module in modules for tree in ("before", "after")]
        for module, tree in cases:  # once each first: compiles .pyc files and warms the page cache
            root, env = trees[tree]
            cpu_ms(module, writes_bytecode(env), root)
        times: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        started = time.perf_counter()
        for _ in range(runs):
            for module, tree in cases:
                root, env = trees[tree]
                times[(module, tree)].append(cpu_ms(module, {**env, "PYTHONDONTWRITEBYTECODE": "1"}, root))
    base = statistics.median(times[("boto3", "after")])
    print(f"{'import':<40} {'CPU ms before':>13} {'ratio':>6} {'CPU ms after':>12} {'ratio':>6}", end="")
    print(f"   (medians of {runs}, interleaved, {time.perf_counter() - started:.0f} s; before = {ref})")
    print(f"{'boto3':<40} {base:13.1f} {1.0:6.2f} {base:12.1f} {1.0:6.2f}")
    for module in modules:
        old_cpu, new_cpu = (
            statistics.median(times[(module, "before")]),
            statistics.median(times[(module, "after")]),
        )
        flag = "" if new_cpu / base <= TARGET_RATIO else f"   over the {TARGET_RATIO:.1f}x target"
        print(
            f"{module:<40} {old_cpu:13.1f} {old_cpu / base:6.2f} {new_cpu:12.1f} {new_cpu / base:6.2f}{flag}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", required=True, metavar="REF", help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=7, help="timed imports of each module in each tree")
    args = parser.parse_args()
    compare(args.before, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
