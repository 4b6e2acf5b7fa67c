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

from jobsched.functions import FunctionEnvironment, local_only_variables

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
    """What the regional stack sets on every function (jobsched.functions), with local values, plus what
    only the local runtime sets (the region, the target allowances, Powertools off AWS).

    The API functions write their request metrics at the end of every invocation, not once a minute: a
    developer sees them in the runtime's output as requests happen, and nothing here pays for log bytes.
    """
    common = FunctionEnvironment(
        regions=tuple(regions),
        service_account_id=LOCAL_ACCOUNT_ID,
        allow_http_targets=True,
        metrics_flush_seconds=0,
    )
    env = {**common.variables(), **local_only_variables(region, allow_targets, reserved_ports)}
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
