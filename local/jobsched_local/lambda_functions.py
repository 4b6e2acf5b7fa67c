"""The functions' environment, and the handlers the runtime runs in its own process (the API functions run in
worker processes, see function_pool.py): the modules Lambda runs, imported once, after their env is set."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from jobsched import config

# functions/ sits at the repository root, which the `jobsched` console script does not put on sys.path.
REPO_ROOT = Path(__file__).resolve().parents[2]

Handler = Callable[[dict[str, Any], Any], Any]
LOCAL_ACCOUNT_ID = "123456789012"  # moto's account: where the local runtime's own queues and tables live


def function_env(
    region: str,
    regions: Iterable[str],
    allow_targets: Iterable[str] = (),
    reserved_ports: Iterable[int] = (),
    archive_dir: Path | None = None,
) -> dict[str, str]:
    """What the regional stack sets on every function, plus the local-only target allowances."""
    env = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "JOBS_TABLE_NAME": config.JOBS_TABLE,
        "EXECUTIONS_TABLE_NAME": config.EXECUTIONS_TABLE,
        "JOBSCHED_REGIONS": ",".join(regions),
        "SERVICE_ACCOUNT_ID": LOCAL_ACCOUNT_ID,
        # Private and loopback targets stay refused, as deployed, except the host:port pairs the developer
        # allows (--allow-target); the runtime's own ports are never targets, so a job cannot reach the
        # AWS endpoint (every tenant's items) or the API behind the gateway's back.
        "ALLOW_TARGETS": ",".join(allow_targets),
        "RESERVED_TARGET_PORTS": ",".join(str(port) for port in reserved_ports),
        "ALLOW_HTTP_TARGETS": "true",
        "POWERTOOLS_SERVICE_NAME": config.SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": config.METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        # Powertools filters every record whose logger name contains the service name off the root
        # handlers, which would silence the runtime's own "jobsched_local.*" logs (tracebacks included).
        "POWERTOOLS_LOG_DEDUPLICATION_DISABLED": "true",
    }
    if archive_dir is not None:
        # The execution archive: a folder with the buckets' layout, shared by the regions as the table is.
        env["EXECUTION_ARCHIVE_DIR"] = str(archive_dir)
    return env


def apply_env(env: Mapping[str, str]) -> None:
    # Handlers read os.environ at import (cold start), so this must run before load_handlers.
    os.environ.update(env)


def load_handlers(functions: Iterable[str]) -> dict[str, Handler]:
    """Import functions.<name>.handler once per function; a function not written yet is left out."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    handlers: dict[str, Handler] = {}
    for name in dict.fromkeys(functions):
        module_name = f"functions.{name}.handler"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (f"functions.{name}", module_name):
                continue
            raise
        handlers[name] = one_at_a_time(module.handler)
    return handlers


def handler_module_exists(name: str) -> bool:
    """Whether functions/<name>/handler.py exists (found without importing it)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        return importlib.util.find_spec(f"functions.{name}.handler") is not None
    except ModuleNotFoundError:
        return False


def one_at_a_time(handler: Handler) -> Handler:
    """Run a function's invocations one after another, as one Lambda execution environment does.

    Handlers keep per-invocation state in module globals (Powertools' resolver keeps the current
    event and route there), which is safe on Lambda, where an environment serves one invocation at a
    time, and not when several gateway threads call the same module at once.
    """
    lock = threading.Lock()

    def invoke(event: Any, context: Any) -> Any:
        with lock:
            return handler(event, context)

    return invoke
