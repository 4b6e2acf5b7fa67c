"""Every benchmark in turn, with modest defaults (`make bench`): cold start, handler cost, open-loop load.

Each script starts its own runtime on free ports and stops it; this prints their output as it comes and
exits non-zero if any of them missed its target or failed. For the full figures run each one alone with
its own options (see docs/benchmarks.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ("cold start", ["cold_start.py", "--runs", "5"]),
    ("handler cost", ["handler_cost.py", "--iterations", "50"]),
    ("open-loop load", ["load.py", "--rates", "100,300", "--duration", "30", "--warmup", "5"]),
]


def main() -> int:
    failed = []
    for name, command in RUNS:
        print(f"\n### {name}: bench/{' '.join(command)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], cwd=HERE, check=False)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nmissed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
