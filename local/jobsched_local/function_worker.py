"""One worker process of the local runtime: a Lambda execution environment for one function.

Started by `function_pool` as `python -m jobsched_local.function_worker MODULE REQUESTS RESPONSES LIFELINE`
(the last three are inherited pipe descriptors). It imports the handler module once (the cold start),
says it is ready, then serves one invocation at a time: (event, context fields) in, ("ok", result) or
("error", {errorType, errorMessage, stackTrace}) out, as Lambda reports a function error.

Nothing but the handler module and this file is imported here (and, on the runtime's test clock,
shifted_clock.py and time-machine): the worker holds only what a Lambda environment holds. The parent
keeps the write end of LIFELINE and never writes to it; when the parent dies (even by SIGKILL) the kernel
closes it, the read below returns, and the worker exits at once, busy or not.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jobsched_local.function_pool import DIRECT_DYNAMODB_ENV
from jobsched_local.lambda_context import LambdaContext
from jobsched_local.shifted_clock import ShiftedClock

REPO_ROOT = Path(__file__).resolve().parents[2]


def watch_parent(lifeline_fd: int) -> threading.Thread:
    def wait_for_eof() -> None:
        while os.read(lifeline_fd, 1):
            pass
        os._exit(0)

    thread = threading.Thread(target=wait_for_eof, name="parent-watchdog", daemon=True)
    thread.start()
    return thread


def describe_error(exc: BaseException) -> dict[str, Any]:
    """What Lambda reports for an unhandled exception: its type, its message, its frames."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def serve(
    handler: Any, requests: Connection, responses: Connection, clock: ShiftedClock | None = None
) -> None:
    while True:
        try:
            event, context_fields = requests.recv()
        except EOFError:
            return  # the pool closed the pipe: shut down
        try:
            if clock is not None:
                clock.refresh()  # the runtime's test clock: every invocation sees the latest offset
            reply: tuple[str, Any] = ("ok", handler(event, LambdaContext(**context_fields)))
        except Exception as exc:
            reply = ("error", describe_error(exc))
        try:
            responses.send(reply)
        except Exception as exc:  # a result that cannot travel (not picklable) is the function's error
            responses.send(("error", describe_error(exc)))


def send_dynamodb_directly(dynamodb_url: str) -> None:
    """DynamoDB calls of every boto3 client the handler makes go straight to DynamoDB Local, each write
    confirmed stored before its answer is used (dynamodb_direct.py); other services keep the endpoint."""
    import boto3

    from jobsched_local.dynamodb_direct import DirectDynamoDB

    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_url
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    DirectDynamoDB(dynamodb_url).install(boto3.DEFAULT_SESSION.events)


def main(argv: list[str]) -> int:
    module_name, request_fd, response_fd, lifeline_fd = argv[0], *map(int, argv[1:4])
    watch_parent(lifeline_fd)
    requests = Connection(request_fd, writable=False)
    responses = Connection(response_fd, readable=False)
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        dynamodb_url = os.environ.get(DIRECT_DYNAMODB_ENV)
        if dynamodb_url:
            send_dynamodb_directly(dynamodb_url)
        clock = ShiftedClock.from_env()
        if clock is not None:
            clock.start()
        handler = importlib.import_module(module_name).handler
    except BaseException as exc:
        responses.send(("failed", "".join(traceback.format_exception(exc))))
        return 1
    responses.send(("ready", os.getpid()))
    serve(handler, requests, responses, clock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
