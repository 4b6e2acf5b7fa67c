"""The least CPU a request of the load mix costs on this machine: its API handler and DynamoDB Local, no more.

bench/load.py measures the whole runtime under open-loop load. This measures a floor under it. Each
operation of load.py's mix is called in-process, as bench/handler_cost.py calls it (the proxy event in, the
proxy response out, the same handler code a Lambda runs), and two CPU times are taken per call:

- this process's: the handler, its models and validation, botocore (the same work a function worker does);
- DynamoDB Local's: every call the operation makes, and the reads and writes schedule-sync makes for a
  create or an update once the stream brings it, less DynamoDB Local's idle rate measured just before.

Left out, so every real request costs more than this floor: the gateway (HTTP, edge checks, usage plans),
the authorizer, the pipe to a worker process, the endpoint that relays this process's calls, schedule-sync's
own Python and its Scheduler calls, the clock and the execution poller. The mix-weighted floor times a rate
is how many cores these two parts alone keep busy at that rate; when that is near or above the machine's
cores, no change to the rest of the runtime can meet the rate's latency target.

    .venv/bin/python bench/cpu_floor.py [--iterations 200] [--warmup 100] [--jobs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from handler_cost import in_process_api, operations
from load import MIX, TARGETS, cpu_seconds, process_tree

SETTLE_SECONDS = 2.0  # after a batch: the stream's schedule-sync work for it lands in DynamoDB Local
IDLE_SECONDS = 3.0
# Measured in this order, each after its own warm-up calls: the tenant's job count grows only with the
# creates, last, so status reads the tenant at its smallest (--jobs; a load.py tenant has 20-160 by its end).
ORDER = ("get", "list", "status", "update", "create")


@dataclass(frozen=True)
class Cost:
    handler_ms: float  # this process's CPU per call
    store_ms: float  # DynamoDB Local's CPU per call, its idle rate taken out

    @property
    def total_ms(self) -> float:
        return self.handler_ms + self.store_ms


class StoreMeter:
    """DynamoDB Local's CPU seconds (the runtime's java child), and its rate while nothing is asked of it."""

    def __init__(self, runtime_pid: int) -> None:
        self._pids = process_tree(runtime_pid)["dynamodb-local"]
        if not self._pids:
            raise SystemExit("no DynamoDB Local process under the runtime")
        self.idle_per_second = 0.0

    def used(self) -> float:
        return float(sum(cpu_seconds(pid) for pid in self._pids))

    def measure_idle(self, seconds: float = IDLE_SECONDS) -> None:
        before, started = self.used(), time.perf_counter()
        time.sleep(seconds)
        self.idle_per_second = (self.used() - before) / (time.perf_counter() - started)


def cost_of(action: Callable[[int], object], iterations: int, store: StoreMeter) -> Cost:
    store_before, cpu_before, started = store.used(), time.process_time(), time.perf_counter()
    for i in range(iterations):
        action(i)
    handler_s = time.process_time() - cpu_before
    time.sleep(SETTLE_SECONDS)
    store_s = store.used() - store_before - store.idle_per_second * (time.perf_counter() - started)
    return Cost(handler_s * 1000 / iterations, max(store_s, 0.0) * 1000 / iterations)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=200, help="calls per operation, measured")
    parser.add_argument(
        "--warmup", type=int, default=100, help="calls per operation first (DynamoDB Local's JIT settles)"
    )
    parser.add_argument("--jobs", type=int, default=20, help="jobs in the tenant before the calls")
    args = parser.parse_args()
    with in_process_api(args.jobs) as (api, raw, job_ids):
        store = StoreMeter(api.runtime.process.pid)
        ops = {name: handler_op for name, handler_op, _ in operations(api, raw, job_ids)}
        # The JVM compiles hardest in its first minute: its idle rate is read once the calls that do not
        # add jobs have run, then each operation gets its own warm-up again just before it is measured.
        for name in ORDER[:-1]:
            for i in range(args.warmup):
                ops[name](i)
        time.sleep(SETTLE_SECONDS)
        store.measure_idle()
        print(
            f"DynamoDB Local idle: {store.idle_per_second * 1000:.1f} ms of CPU a second (taken out);  "
            f"{args.iterations} calls per operation after {args.warmup} warm-up calls, "
            f"{len(job_ids)} jobs first"
        )
        columns = f"{'handler CPU ms':>15} {'DynamoDB Local CPU ms':>22} {'sum ms':>7}"
        print(f"{'operation':<9} {'share':>5} {columns}")
        costs = {}
        for name in ORDER:  # each warmed up just before it is measured: creates come last
            for i in range(args.warmup):
                ops[name](i)
            costs[name] = cost_of(ops[name], args.iterations, store)
    floor = 0.0
    for name, share in MIX:
        cost = costs[name]
        floor += cost.total_ms * share / 100
        print(f"{name:<9} {share:>4}% {cost.handler_ms:15.2f} {cost.store_ms:22.2f} {cost.total_ms:7.2f}")
    cores = os.cpu_count() or 1
    print(f"floor of the mix: {floor:.2f} ms of CPU a request (handler and DynamoDB Local only)")
    for rate in TARGETS:
        busy = floor * rate / 1000
        print(f"  at {rate:.0f}/s: {busy:.2f} of this machine's {cores} cores busy before anything else runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
