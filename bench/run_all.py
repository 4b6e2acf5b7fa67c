"""Every benchmark in turn, with modest defaults (`make bench`): cold start, handler cost, CPU floor, load.

Each script starts its own runtime on free ports and stops it; this prints their output as it comes, then
which scripts missed a target (their exit status 3) and which failed (any other non-zero status). It exits
non-zero only when a script failed: a missed target is a figure to read, not a broken run. For the full
figures run each one alone with its own options (see docs/benchmarks.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MISSED_TARGET = 3  # what cold_start.py and load.py exit with when they miss a target
RUNS = [
    ("cold start", ["cold_start.py", "--runs", "5"]),
    ("handler cost", ["handler_cost.py", "--iterations", "50"]),
    ("CPU floor", ["cpu_floor.py", "--iterations", "50", "--warmup", "50"]),
    ("open-loop load", ["load.py", "--rates", "100,300", "--duration", "10", "--warmup", "2"]),
]


def main() -> int:
    missed, failed = [], []
    for name, command in RUNS:
        print(f"\n### {name}: bench/{' '.join(command)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], cwd=HERE, check=False)
        if done.returncode == MISSED_TARGET:
            missed.append(name)
        elif done.returncode != 0:
            failed.append(name)
    print(f"\nmissed a target: {', '.join(missed) or 'none'};  failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
