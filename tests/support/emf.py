"""Reading what the telemetry module writes: EMF metric lines on stdout, JSON log lines of the Logger."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jobsched import telemetry


@dataclass(frozen=True)
class EmittedMetric:
    name: str
    namespace: str
    dimensions: dict[str, str]
    values: list[float]
    unit: str


def emitted_metrics(stdout: str) -> list[EmittedMetric]:
    """Every metric of every EMF document printed, with the dimension values that document carries."""
    found: list[EmittedMetric] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            (dimension_names,) = directive["Dimensions"]
            dimensions = {name: document[name] for name in dimension_names}
            for definition in directive["Metrics"]:
                value = document[definition["Name"]]
                found.append(
                    EmittedMetric(
                        name=definition["Name"],
                        namespace=directive["Namespace"],
                        dimensions=dimensions,
                        values=value if isinstance(value, list) else [value],
                        unit=definition["Unit"],
                    )
                )
    return found


def named(metrics: list[EmittedMetric], name: str) -> list[EmittedMetric]:
    return [metric for metric in metrics if metric.name == name]


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The shared Logger's output, redirected for the duration of the block (it holds its own stream)."""
    handler: Any = telemetry.logger.registered_handler
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
