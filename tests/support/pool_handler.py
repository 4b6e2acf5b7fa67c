"""A handler module for the function pool's tests: each event names what the invocation does."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

# The cold start: counted once per worker process, so the tests can see that the module is imported once.
IMPORTED_AT = time.time()
INVOCATIONS = 0


def handler(event: dict[str, Any], context: Any) -> Any:
    global INVOCATIONS
    INVOCATIONS += 1
    action = event.get("action")
    if action == "raise":
        raise ValueError(f"refused {event.get('value')}")
    if action == "crash":
        os._exit(3)
    if action == "hang":
        time.sleep(60)
    if action == "unpicklable":
        return lambda: None
    if action == "meet":
        return meet(Path(event["dir"]), int(event["expect"]), context)
    return {
        "event": event,
        "pid": os.getpid(),
        "invocations": INVOCATIONS,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "table": os.environ.get("JOBS_TABLE_NAME"),
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "time": time.time(),  # the worker's wall clock (the test clock shifts it)
    }


def meet(folder: Path, expect: int, context: Any) -> dict[str, Any]:
    """Mark this invocation as running, then wait (bounded) until `expect` invocations are running at once."""
    (folder / f"{os.getpid()}-{context.aws_request_id}").touch()
    seen = 0
    for _ in range(400):
        seen = len(list(folder.iterdir()))
        if seen >= expect:
            break
        time.sleep(0.05)
    return {"pid": os.getpid(), "seen": seen}
