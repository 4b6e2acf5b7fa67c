"""The archive scan's read rate against DynamoDB Local: paced (jobsched.execution.read_pacing) and not.

Starts DynamoDB Local on a free port in a temporary folder, fills the executions table with `--items`
execution items of ~900 bytes (the load profile's size), then scans it in `--segments` segments one after
another, as the archiver does, first unpaced, then at `--rate` read units a second per segment; prints the
read units each scan consumed (as DynamoDB Local reports them), its seconds and its units a second.
A paced scan takes at least (units - segments x rate) / rate seconds: each segment starts with one second's
units in its bucket, then reads at the rate (the archiver's segments, ~4,000 units at 25 a second, make
that first second negligible).

    .venv/bin/python bench/archive_pacing.py [--items 20000] [--segments 8] [--rate 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "layers"), str(HERE.parent / "local")]

from jobsched import tables  # noqa: E402
from jobsched.execution.adapters.archive_store import scan_executions  # noqa: E402
from jobsched.execution.read_pacing import ReadPacer  # noqa: E402
from jobsched_local.aws_emulator import free_port  # noqa: E402
from jobsched_local.dynamodb_local import DynamoDBLocal  # noqa: E402
from jobsched_local.provision import ensure_table  # noqa: E402

PADDING = "x" * 700  # with the keys and attributes: ~900 bytes an item
# DynamoDB Local takes any credentials; these keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
}


def fill(client: object, count: int) -> None:
    table = boto3.resource(
        "dynamodb",
        endpoint_url=client.meta.endpoint_url,  # type: ignore[attr-defined]
        **LOCAL_CREDENTIALS,
    ).Table(tables.EXECUTIONS.name)
    with table.batch_writer() as batch:
        for i in range(count):
            batch.put_item(
                Item={
                    "pk": f"TENANT#bench#JOB#job{i % 500}",
                    "sk": f"EXEC#exe_20261001T{i:06d}Z_x",
                    "entity": "execution",
                    "tenant": "bench",
                    "job_id": f"job{i % 500}",
                    "expires_at": 1,
                    "padding": PADDING,
                }
            )


def scan(client: object, segments: int, rate: float | None) -> tuple[float, float, int]:
    """(units consumed, seconds, items) of scanning every segment one after another."""
    units, items = 0.0, 0
    started = time.perf_counter()
    for segment in range(segments):
        pacer = ReadPacer(rate if rate is not None else 1e9)
        items += sum(
            1
            for _ in scan_executions(
                client, tables.EXECUTIONS.name, segment=segment, total_segments=segments, pacer=pacer
            )
        )
        units += pacer.consumed_units
    return units, time.perf_counter() - started, items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000, help="execution items (default 20000)")
    parser.add_argument("--segments", type=int, default=8, help="scan segments (default 8)")
    parser.add_argument("--rate", type=float, default=100.0, help="read units a second (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as folder:
        server = DynamoDBLocal(Path(folder), "127.0.0.1", free_port())
        server.start()
        try:
            client = boto3.client("dynamodb", endpoint_url=server.endpoint_url, **LOCAL_CREDENTIALS)
            ensure_table(client, tables.EXECUTIONS)
            fill(client, args.items)
            for label, rate in (("unpaced", None), (f"paced at {args.rate:g} units/s", args.rate)):
                units, seconds, items = scan(client, args.segments, rate)
                # each segment starts with a full bucket (one second's units): the rest is paced
                paced = (
                    ""
                    if rate is None
                    else f" (the rate allows no less than {(units - args.segments * rate) / rate:.2f} s)"
                )
                print(
                    f"{label}: {items} items, {units:,.1f} read units in {seconds:.2f} s: "
                    f"{units / seconds:,.1f} units/s{paced}"
                )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
