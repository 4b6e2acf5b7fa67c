"""The `jobsched` command: `local` runs the service on this machine; `keys` onboards tenants."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from jobsched import config
from jobsched.errors import DomainError
from jobsched_local.function_pool import WORKERS_ENV, default_pool_size

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
DEFAULT_PORT = 8080
MAX_WORKERS = 64


def region_name(value: str) -> str:
    if not REGION_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AWS region name (like us-east-1)")
    return value


def region_list(value: str) -> tuple[str, ...]:
    regions = tuple(dict.fromkeys(region_name(part.strip()) for part in value.split(",") if part.strip()))
    if not regions:
        raise argparse.ArgumentTypeError("give at least one region, comma-separated")
    return regions


def port_number(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 1 and 65535")
    return port


def worker_count(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to {MAX_WORKERS}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobsched", description="Serverless multi-region job scheduler.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{local,keys,jobs,dlq}")

    local = commands.add_parser(
        "local", help="run the whole service on this machine (moto, no Docker, no AWS)"
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    local.add_argument(
        "--port", type=port_number, default=None, help=f"API port (default: $PORT or {DEFAULT_PORT})"
    )
    local.add_argument(
        "--aws-port", type=port_number, default=4566, help="AWS endpoint port (default: %(default)s)"
    )
    local.add_argument(
        "--state-dir", type=Path, default=Path(".jobsched"), help="where state is kept (default: %(default)s)"
    )
    local.add_argument(
        "--region",
        type=region_name,
        default=config.PRIMARY_REGION,
        help="serving region (default: %(default)s)",
    )
    local.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        help="most worker processes per API function and for the authorizer; each starts with one and "
        "adds workers as calls overlap (default: $JOBSCHED_LOCAL_WORKERS or 4 per CPU core)",
    )

    keys = commands.add_parser("keys", help="manage tenants' API keys in every region")
    keys.add_argument(
        "--regions",
        type=region_list,
        default=None,
        help="comma-separated regions whose API Gateway gets the key (default: $JOBSCHED_REGIONS or "
        f"{','.join(config.REGIONS)})",
    )
    keys.add_argument(
        "--table-region",
        type=region_name,
        default=config.PRIMARY_REGION,
        help="region of the jobs table holding key records (default: %(default)s)",
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="{create,list,revoke}")
    create = key_commands.add_parser("create", help="issue a key; prints its value once, as the last line")
    create.add_argument("--tenant", required=True, help="tenant the key belongs to (lowercase, digits, '-')")
    create.add_argument("--tier", required=True, choices=[t.value for t in config.Tier])
    create.add_argument("--role", required=True, choices=[r.value for r in config.Role])
    listing = key_commands.add_parser("list", help="list keys (never their values)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = key_commands.add_parser("revoke", help="revoke a key in every region")
    revoke.add_argument("key_id", metavar="KEY_ID")
    jobs = commands.add_parser("jobs", help="operate on jobs across tenants (region evacuation)")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="{move}")
    move = job_commands.add_parser("move", help="move jobs' home region (and so their schedules)")
    move.add_argument("--from", dest="from_region", type=region_name, required=True, metavar="REGION")
    move.add_argument("--to", dest="to_region", type=region_name, required=True, metavar="REGION")
    move.add_argument("--tenant", help="only this tenant's jobs (default: every tenant)")
    move.add_argument(
        "--table-region",
        type=region_name,
        default=config.PRIMARY_REGION,
        help="region of the jobs table replica to write to (default: %(default)s; when evacuating that "
        "region, give the --to region)",
    )
    dlq = commands.add_parser("dlq", help="the execution dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{redrive}")
    redrive = dlq_commands.add_parser(
        "redrive", help="move messages from the execution DLQ back to the queue"
    )
    redrive.add_argument(
        "--region", type=region_name, default=config.PRIMARY_REGION, help="region (default: %(default)s)"
    )
    redrive.add_argument("--max", type=int, default=None, metavar="N", help="move at most N messages")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local":
        return run_local(parser, args)
    if args.command == "jobs":
        return run_jobs_move(parser, args)
    if args.command == "dlq":
        return run_dlq_redrive(args)
    return run_keys(parser, args)


def run_local(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    port = args.port
    if port is None:
        try:
            port = port_number(os.environ.get("PORT", str(DEFAULT_PORT)))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"environment variable PORT: {exc}")
    regions = _configured_regions(parser, None)
    if args.region not in regions:
        parser.error(
            f"argument --region: {args.region} is not one of the configured regions {','.join(regions)}"
        )
    workers = args.workers
    if workers is None:
        try:
            workers = worker_count(os.environ.get(WORKERS_ENV) or str(default_pool_size()))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"environment variable {WORKERS_ENV}: {exc}")
    # Imported here: moto and werkzeug load in ~1 s, which `jobsched keys` should not pay.
    from jobsched_local.runtime import RuntimeOptions, run

    options = RuntimeOptions(
        host=args.host,
        port=port,
        aws_port=args.aws_port,
        state_dir=args.state_dir,
        region=args.region,
        regions=regions,
        workers_per_function=workers,
    )
    return run(options)


def run_keys(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched_local import key_commands
    from jobsched_local.aws_session import client_factory, endpoint_url, make_session
    from jobsched_local.key_service import make_key_service

    regions = _configured_regions(parser, args.regions)
    try:
        service = make_key_service(client_factory(make_session()), args.table_region, regions)
        if args.keys_command == "create":
            key_commands.create_key(service, args.tenant, args.tier, args.role, regions, sys.stdout)
        elif args.keys_command == "list":
            key_commands.list_keys(service, args.tenant, sys.stdout)
        else:
            key_commands.revoke_key(service, args.key_id, regions, sys.stdout)
    except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError) as exc:
        endpoint = endpoint_url() or exc.kwargs.get("endpoint_url", "AWS")
        return fail(
            f"cannot reach the AWS endpoint {endpoint} ({exc}). "
            "If that is the local runtime, start it with `jobsched local` (or `make run`)."
        )
    except (NoCredentialsError, PartialCredentialsError):
        return fail(
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY), or set AWS_ENDPOINT_URL=http://127.0.0.1:4566 to use the local runtime."
        )
    except DomainError as exc:
        return fail(exc.message)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return fail(f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}")
    return 0


def run_dlq_redrive(args: argparse.Namespace) -> int:
    from jobsched_local.aws_session import client_factory, endpoint_url, make_session
    from jobsched_local.dlq_redrive import format_summary, redrive

    if args.max is not None and args.max < 1:
        return fail("--max must be at least 1")
    try:
        sqs = client_factory(make_session())("sqs", args.region)
        summary = redrive(sqs, max_messages=args.max, progress_to=sys.stderr)
    except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError) as exc:
        return fail(f"cannot reach the AWS endpoint {endpoint_url() or 'AWS'} ({exc})")
    except (NoCredentialsError, PartialCredentialsError):
        return fail(
            "no AWS credentials found (or set AWS_ENDPOINT_URL=http://127.0.0.1:4566 for the local runtime)"
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return fail(f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}")
    print(format_summary(summary, args.region))
    return 0 if summary.failed == 0 else 1


def run_jobs_move(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched_local.aws_session import client_factory, endpoint_url, make_session
    from jobsched_local.job_commands import move_home_region

    regions = _configured_regions(parser, None)
    try:
        dynamodb = client_factory(make_session())("dynamodb", args.table_region)
        summary = move_home_region(
            dynamodb,
            from_region=args.from_region,
            to_region=args.to_region,
            regions=regions,
            tenant=args.tenant,
            out=sys.stdout,
            progress_to=sys.stderr,
        )
    except (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError, ReadTimeoutError) as exc:
        return fail(f"cannot reach the AWS endpoint {endpoint_url() or 'AWS'} ({exc})")
    except (NoCredentialsError, PartialCredentialsError):
        return fail(
            "no AWS credentials found (or set AWS_ENDPOINT_URL=http://127.0.0.1:4566 for the local runtime)"
        )
    except DomainError as exc:
        return fail(exc.message)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return fail(f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}")
    return 0 if not summary.failed else 1


def _configured_regions(parser: argparse.ArgumentParser, given: tuple[str, ...] | None) -> tuple[str, ...]:
    if given:
        return given
    from_env = os.environ.get("JOBSCHED_REGIONS")
    if not from_env:
        return config.REGIONS
    try:
        return region_list(from_env)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"environment variable JOBSCHED_REGIONS: {exc}")


def fail(message: str) -> int:
    print(f"jobsched: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
