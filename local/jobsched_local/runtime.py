"""The local runtime: DynamoDB Local (the tables, on disk), moto (the rest, rebuilt from the tables at
start), the provisioned API, the gateway and the workers; one process and its DynamoDB Local child."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from jobsched import config
from jobsched.execution.heartbeat import HEARTBEAT_PROBE_PATH, HEARTBEAT_PROBE_URL_ENV, HEARTBEAT_TOKEN_ENV
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_service import make_key_service, make_key_store
from jobsched.targets.guard import parse_host_port
from jobsched_local.archive_commands import archive_dir, archive_expired
from jobsched_local.authorizer_gate import CachingAuthorizer
from jobsched_local.aws_emulator import AwsEmulator, PortInUse, ensure_port_free
from jobsched_local.bulk_recovery import resume_bulk_operations
from jobsched_local.demo_key import ensure_demo_key
from jobsched_local.dynamodb_local import DynamoDBLocalError
from jobsched_local.execution_poller import EXECUTOR_FUNCTION, ExecutionPoller
from jobsched_local.function_pool import (
    FunctionPool,
    default_pool_size,
    launch_pools,
    stop_pools,
    wait_until_ready,
    worker_env,
)
from jobsched_local.gateway import Gateway, GatewayServer
from jobsched_local.key_check import moto_key_registered, remembered_key_check
from jobsched_local.lambda_context import LOCAL_ACCOUNT_ID as ACCOUNT_ID
from jobsched_local.lambda_context import make_context
from jobsched_local.lambda_functions import Handler, apply_env, function_env, load_handlers
from jobsched_local.provision import provision
from jobsched_local.proxy_event import ApiStage
from jobsched_local.rebuild import RebuildSummary
from jobsched_local.routes import ROUTES
from jobsched_local.scheduling_provision import ensure_queues
from jobsched_local.scheduling_runtime import SchedulingRuntime
from jobsched_local.shifted_clock import CLOCK_FILE_ENV, ShiftedClock
from jobsched_local.token_issuer import LocalIssuer, with_local_issuer
from jobsched_local.workers import BackgroundWorker, PeriodicWorker, WorkerGroup

LOG = logging.getLogger(__name__)
AUTHORIZER_FUNCTION = "authorizer"
JOB_METRICS_FUNCTION = "job_metrics"
BULK_WORKER_FUNCTION = "bulk_worker"
JOB_CENSUS_INTERVAL_SECONDS = 60.0
# The archive pass (archive_commands.archive_expired): at start, then daily. Executions wait in the table
# for it past their TTL at most a day (or the runtime's downtime); the API reads them there meanwhile.
ARCHIVE_PASS_INTERVAL_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class RuntimeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    aws_port: int = 4566
    state_dir: Path = Path(".jobsched")
    region: str = config.PRIMARY_REGION
    regions: Sequence[str] = field(default_factory=lambda: config.REGIONS)
    # Most worker processes per API function and for the authorizer (see function_pool.py).
    workers_per_function: int = field(default_factory=default_pool_size)
    # host:port pairs jobs may call although they are loopback/private (--allow-target)
    allow_targets: Sequence[str] = ()
    # A test facility: the runtime's time is the wall clock plus this file's offset (shifted_clock.py).
    clock_file: Path | None = None

    @property
    def own_ports(self) -> tuple[int, ...]:
        """Every port this runtime listens on: never a job's target, allowed or not."""
        return (self.port, self.aws_port)


@dataclass(frozen=True)
class RuntimeInfo:
    api_url: str
    aws_endpoint_url: str
    state_dir: Path
    demo_key: str
    rebuilt: RebuildSummary
    startup_seconds: float


class LocalRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        if options.region not in options.regions:
            raise ValueError(
                f"region {options.region} is not one of the configured regions {list(options.regions)}"
            )
        for entry in options.allow_targets:
            if parse_host_port(entry)[1] in options.own_ports:
                raise ValueError(f"--allow-target {entry}: the runtime's own ports are never targets")
        self.options = options
        self.workers = WorkerGroup()
        self._emulator = AwsEmulator(options.host, options.aws_port, options.state_dir)
        self._server: GatewayServer | None = None
        self._pools: dict[str, FunctionPool] = {}
        self._clock: ShiftedClock | None = None

    def register_worker(self, worker: BackgroundWorker) -> None:
        """Add a background worker: it starts with the runtime and stops (in reverse order) before AWS."""
        self.workers.register(worker)

    def start(self) -> RuntimeInfo:
        started = time.monotonic()
        opts = self.options
        ensure_port_free(opts.host, opts.port, "API")
        try:
            return self._start(started)
        except BaseException:
            self.stop()
            raise

    def _start(self, started: float) -> RuntimeInfo:
        opts = self.options
        if opts.clock_file is not None:
            # Before anything reads the time, so every timestamp of this run is on the shifted clock.
            self._clock = ShiftedClock(opts.clock_file.resolve())
            self._clock.start()
            self._clock.watch()
        self._emulator.start()
        # The runtime's own ports and the emulator's internal ones are never a job's target.
        reserved = (*opts.own_ports, *self._emulator.internal_ports)
        issuer = self._issuer()
        env = {
            **function_env(
                opts.region, opts.regions, opts.allow_targets, reserved, archive_dir(opts.state_dir)
            ),
            **issuer.env(),
        }
        if self._clock is not None:
            env[CLOCK_FILE_ENV] = str(self._clock.path)  # the worker processes shift their clocks too
        # The API functions and the authorizer run in worker processes, which reach AWS over HTTP; they
        # cold-start while the runtime provisions and restores.
        self._pools = launch_pools(
            [*(route.function for route in ROUTES), AUTHORIZER_FUNCTION],
            worker_env(env, self._emulator.endpoint_url, dynamodb_url=self._emulator.dynamodb_endpoint_url),
            opts.workers_per_function,
        )
        api_ids = provision(opts.region, opts.regions)
        # The dead man's switch: a new token per start, in the heartbeat schedule and the executor's env.
        env[HEARTBEAT_TOKEN_ENV] = secrets.token_urlsafe(32)
        # Its target, as on AWS: this runtime's own API health route, through the gateway stand-in.
        own_host = "127.0.0.1" if opts.host in ("0.0.0.0", "", "::") else opts.host  # noqa: S104
        env[HEARTBEAT_PROBE_URL_ENV] = f"http://{own_host}:{opts.port}{HEARTBEAT_PROBE_PATH}"
        scheduling = SchedulingRuntime(
            opts.state_dir,
            opts.region,
            opts.regions,
            ACCOUNT_ID,
            self._emulator.journal,
            heartbeat_token=env[HEARTBEAT_TOKEN_ENV],
        )
        rebuilt = scheduling.prepare()  # moto's schedules and API keys, from the tables

        apply_env(env)
        for worker in scheduling.workers():
            self.register_worker(worker)  # schedule-sync on the stream, the schedule clock, recovery
        self._register_execution_poller()
        self._register_job_census()
        self._register_archive_pass()
        demo_key = ensure_demo_key(
            opts.state_dir,
            make_key_service(_client, opts.region, opts.regions),
            make_key_store(_client, opts.region),
        )

        wait_until_ready(self._pools.values())
        handlers: dict[str, Handler] = dict(self._pools)
        api = ApiStage(api_ids[opts.region], config.API_STAGE, opts.region, ACCOUNT_ID)
        authorizer_handler = handlers.pop(AUTHORIZER_FUNCTION, None)
        authorizer = CachingAuthorizer(authorizer_handler, opts.region) if authorizer_handler else None
        key_check = remembered_key_check(
            make_key_store(_client, opts.region), moto_key_registered(ACCOUNT_ID, opts.region)
        )
        gateway = Gateway(api, handlers, authorizer, key_check=key_check)
        self.workers.start_all()
        clients = DynamoClientStore(_client("dynamodb", opts.region), config.JOBS_TABLE)
        self._server = GatewayServer(
            gateway, opts.host, opts.port, wrap=lambda app: with_local_issuer(app, issuer, clients)
        )
        self._server.start()
        return RuntimeInfo(
            api_url=self._server.url,
            aws_endpoint_url=self._emulator.endpoint_url,
            state_dir=opts.state_dir.resolve(),
            demo_key=demo_key,
            rebuilt=rebuilt,
            startup_seconds=time.monotonic() - started,
        )

    def _issuer(self) -> LocalIssuer:
        """The local token issuer on the API's own address; its URL is recorded for `jobsched tokens`."""
        opts = self.options
        host = "127.0.0.1" if opts.host in ("0.0.0.0", "", "::") else opts.host  # noqa: S104
        issuer = LocalIssuer(opts.state_dir, f"http://{host}:{opts.port}")
        issuer.record_url(opts.state_dir, self._emulator.endpoint_url)
        return issuer

    def _register_execution_poller(self) -> None:
        """The SQS event source of the executor: the execution queue polled into its handler."""
        executor = load_handlers([EXECUTOR_FUNCTION]).get(EXECUTOR_FUNCTION)
        if executor is not None:
            ensure_queues(_client("sqs", self.options.region))
            self.register_worker(ExecutionPoller(executor, _client, self.options.region))
        # The bulk queue's event source, the same way: large bulk pause/resume operations, page by page.
        bulk_worker = load_handlers([BULK_WORKER_FUNCTION]).get(BULK_WORKER_FUNCTION)
        if bulk_worker is not None:
            ensure_queues(_client("sqs", self.options.region))
            resume_bulk_operations(
                _client("dynamodb", self.options.region), _client("sqs", self.options.region)
            )
            self.register_worker(
                ExecutionPoller(
                    bulk_worker,
                    _client,
                    self.options.region,
                    queue_name=config.BULK_QUEUE,
                    function=BULK_WORKER_FUNCTION,
                    timeout_seconds=config.BULK_WORKER_TIMEOUT_SECONDS,
                )
            )

    def _register_job_census(self) -> None:
        """The five-minute EventBridge rule of the job census; locally every minute."""
        census = load_handlers([JOB_METRICS_FUNCTION]).get(JOB_METRICS_FUNCTION)
        if census is not None:
            region = self.options.region
            self.register_worker(
                PeriodicWorker(
                    "job-census",
                    JOB_CENSUS_INTERVAL_SECONDS,
                    lambda: census({}, make_context(JOB_METRICS_FUNCTION, region)),
                )
            )

    def _register_archive_pass(self) -> None:
        """In place of the executions table's TTL, which the local runtime leaves off (provision.py)."""
        opts = self.options

        def archive() -> None:
            archived, jobs = archive_expired(
                _client("dynamodb", opts.region), opts.state_dir, datetime.now(UTC)
            )
            if archived:
                LOG.info("archived %d expired executions of %d jobs", archived, jobs)

        self.register_worker(
            PeriodicWorker("archive-pass", ARCHIVE_PASS_INTERVAL_SECONDS, archive, first_delay=0.0)
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        stop_pools(self._pools.values())
        self._pools = {}
        self.workers.stop_all()
        self._emulator.stop()
        if self._clock is not None:
            self._clock.stop()
            self._clock = None


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def print_banner(info: RuntimeInfo) -> None:
    rebuilt = f"{info.rebuilt.jobs} jobs' schedules and {info.rebuilt.api_keys} API keys rebuilt"
    lines = [
        f"jobsched local runtime is up ({info.startup_seconds:.1f} s)",
        f"  API:          {info.api_url}   (try: curl {info.api_url}/health)",
        f"  AWS endpoint: {info.aws_endpoint_url}   (CLI: export AWS_ENDPOINT_URL={info.aws_endpoint_url})",
        f"  State:        {info.state_dir}   (tables in DynamoDB Local; {rebuilt})",
        f"  Demo API key (tenant demo, role admin, tier premium): {info.demo_key}",
        f"  Token issuer: {info.api_url}   (jobsched tokens issue --tenant demo --role viewer)",
        "Press Ctrl+C to stop.",
    ]
    print("\n".join(lines), flush=True)


def run(options: RuntimeOptions) -> int:
    """Start, serve until SIGINT or SIGTERM, then stop cleanly (DynamoDB Local included)."""
    # Before anything makes a Powertools Logger in this process: its deduplication filter would drop every
    # record whose logger name contains the service name, the runtime's own "jobsched_local.*" lines too.
    os.environ["POWERTOOLS_LOG_DEDUPLICATION_DISABLED"] = "true"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        LOG.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    runtime = LocalRuntime(options)
    try:
        info = runtime.start()
    except PortInUse as exc:
        print(
            f"jobsched local: {exc}; is another runtime running? choose other ports with --port/--aws-port",
            file=sys.stderr,
        )
        return 1
    except DynamoDBLocalError as exc:
        print(f"jobsched local: {exc}", file=sys.stderr)
        return 1
    print_banner(info)
    # A timed wait, so the signal handler gets its turn even where a blocking wait would not wake up.
    while not stopping.wait(0.5):
        pass
    runtime.stop()
    print("jobsched local runtime stopped; its state is in", info.state_dir, flush=True)
    return 0
