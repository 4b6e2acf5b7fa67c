"""The `jobsched` command: `local` runs the service on this machine; `keys` onboards tenants; `jobs` moves
jobs' home regions; `tenants` and `targets` open AWS targets to a tenant; `dlq` and `regions` for
operators."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

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
from jobsched.errors import DomainError, InvalidInput
from jobsched.keys.clients import parse_scopes
from jobsched.keys.models import parse_tag_scope
from jobsched_local.function_pool import WORKERS_ENV, default_pool_size

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
DEFAULT_PORT = 8080
MAX_WORKERS = 64

T = TypeVar("T")


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


def host_port(value: str) -> str:
    from jobsched.targets.guard import parse_host_port

    try:
        parse_host_port(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value.strip()


def worker_count(value: str) -> int:
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to {MAX_WORKERS}")
    return int(value)


def add_table_region(
    parser: argparse.ArgumentParser,
    text: str = "region of the jobs table replica to write to (default: %(default)s)",
) -> None:
    parser.add_argument("--table-region", type=region_name, default=config.PRIMARY_REGION, help=text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobsched", description="Serverless multi-region job scheduler.")
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="{local,keys,tokens,clients,jobs,tenants,targets,dlq,regions}",
    )

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
        "--allow-target",
        dest="allow_targets",
        type=host_port,
        action="append",
        default=None,
        metavar="HOST:PORT",
        help="let jobs call this loopback/private host:port (repeatable; also $JOBSCHED_ALLOW_TARGETS, "
        "comma-separated); other private addresses and the runtime's own ports stay refused",
    )
    local.add_argument(
        "--workers",
        type=worker_count,
        default=None,
        help="most worker processes per API function and for the authorizer; each starts with one and "
        "adds workers as calls overlap (default: $JOBSCHED_LOCAL_WORKERS or 4 per CPU core)",
    )
    local.add_argument(
        "--clock-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="for tests: the runtime's time is the wall clock plus the offset in this JSON file, "
        '{"offset_seconds": N}, re-read as it changes (also $JOBSCHED_LOCAL_CLOCK_FILE; needs the '
        "development dependencies)",
    )

    keys = commands.add_parser("keys", help="manage tenants' API keys in every region")
    keys.add_argument(
        "--regions",
        type=region_list,
        default=None,
        help="comma-separated regions whose API Gateway gets the key (default: $JOBSCHED_REGIONS or "
        f"{','.join(config.REGIONS)})",
    )
    add_table_region(keys, "region of the jobs table holding key records (default: %(default)s)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="{create,list,revoke}")
    create = key_commands.add_parser("create", help="issue a key; prints its value once, as the last line")
    create.add_argument("--tenant", required=True, help="tenant the key belongs to (lowercase, digits, '-')")
    create.add_argument("--tier", required=True, choices=[t.value for t in config.Tier])
    create.add_argument("--role", required=True, choices=[r.value for r in config.Role])
    create.add_argument(
        "--tags", default=None, help="limit the key to jobs with these tags (team:billing,...)"
    )
    listing = key_commands.add_parser("list", help="list keys (never their values)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    revoke = key_commands.add_parser("revoke", help="revoke a key in every region")
    revoke.add_argument("key_id", metavar="KEY_ID")
    add_identity_parsers(commands)
    jobs = commands.add_parser("jobs", help="operate on jobs across tenants (region evacuation)")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True, metavar="{move,issue-fire-tokens}")
    move = job_commands.add_parser("move", help="move jobs' home region (and so their schedules)")
    move.add_argument("--from", dest="from_region", type=region_name, required=True, metavar="REGION")
    move.add_argument("--to", dest="to_region", type=region_name, required=True, metavar="REGION")
    move.add_argument("--tenant", help="only this tenant's jobs (default: every tenant)")
    add_table_region(
        move,
        "region of the jobs table replica to write to (default: %(default)s; when evacuating that "
        "region, give the --to region)",
    )
    tokens = job_commands.add_parser(
        "issue-fire-tokens",
        help="one-off: give jobs made before fire tokens their token (their fires run again)",
    )
    tenants = commands.add_parser("tenants", help="a tenant's AWS target role (assumed with ExternalId)")
    tenant_commands = tenants.add_subparsers(dest="tenants_command", required=True, metavar="{set-role,show}")
    set_role = tenant_commands.add_parser(
        "set-role", help="the role jobs assume (ExternalId = tenant) for targets in the role's account"
    )
    set_role.add_argument("--tenant", required=True)
    role_choice = set_role.add_mutually_exclusive_group(required=True)
    role_choice.add_argument("--role-arn", help="arn:aws:iam::<account>:role/<name>")
    role_choice.add_argument("--clear", action="store_true", help="remove the tenant's target role")
    show = tenant_commands.add_parser("show", help="a tenant's target role and allow-list")
    show.add_argument("--tenant", required=True)
    targets = commands.add_parser("targets", help="a tenant's allow-list of AWS target ARNs")
    target_commands = targets.add_subparsers(
        dest="targets_command", required=True, metavar="{allow,deny,list}"
    )
    for verb, text in (("allow", "let the tenant's jobs call ARN"), ("deny", "take ARN off the allow-list")):
        command = target_commands.add_parser(verb, help=text)
        command.add_argument("--tenant", required=True)
        command.add_argument("arn", metavar="ARN")
    target_commands.add_parser("list", help="the tenant's allow-listed ARNs").add_argument(
        "--tenant", required=True
    )
    for operator_command in (tokens, tenants, targets):
        add_table_region(operator_command)
    dlq = commands.add_parser("dlq", help="the execution dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{redrive}")
    redrive = dlq_commands.add_parser(
        "redrive", help="move messages from the execution DLQ back to the queue"
    )
    redrive.add_argument(
        "--region", type=region_name, default=config.PRIMARY_REGION, help="region (default: %(default)s)"
    )
    redrive.add_argument("--max", type=int, default=None, metavar="N", help="move at most N messages")
    archive = commands.add_parser("archive", help="execution history older than the table keeps")
    archive_commands = archive.add_subparsers(dest="archive_command", required=True, metavar="{run}")
    archive_run = archive_commands.add_parser(
        "run", help="archive executions older than --older-than now (the local runtime's state folder)"
    )
    archive_run.add_argument(
        "--older-than", default="30d", metavar="AGE", help="e.g. 30d, 12h, 0s (default: %(default)s)"
    )
    archive_run.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".jobsched"),
        help="the runtime's state folder (default: %(default)s)",
    )
    archive_run.add_argument(
        "--region", type=region_name, default=config.PRIMARY_REGION, help="region (default: %(default)s)"
    )
    add_regions_parser(commands)
    return parser


def add_identity_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`jobsched tokens` (token access, local users' tokens) and `jobsched clients` (OAuth clients)."""
    roles = [r.value for r in config.Role]
    tiers = [t.value for t in config.Tier]
    tokens = commands.add_parser("tokens", help="bearer tokens: a tenant's token access; local user tokens")
    tokens.add_argument("--table-region", type=region_name, default=config.PRIMARY_REGION)
    tokens.add_argument("--state-dir", type=Path, default=Path(".jobsched"), help="the local runtime's")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="{enable,issue}")
    enable = token_commands.add_parser("enable", help="let a tenant's token callers in, counted in a tier")
    enable.add_argument("--tenant", required=True)
    enable.add_argument("--tier", required=True, choices=tiers)
    issue = token_commands.add_parser(
        "issue", help="sign a user's token with the local issuer; prints it as the last line"
    )
    issue.add_argument("--tenant", required=True)
    issue.add_argument("--role", required=True, choices=roles)
    issue.add_argument("--scopes", default=None, help="limit the token to these scopes (jobs.read,...)")
    issue.add_argument("--tags", default=None, help="limit the token to jobs with these tags")
    issue.add_argument("--ttl", default="1h", help="how long it is valid: 90s, 15m, 1h (default), 1d")
    issue.add_argument("--tier", default=None, choices=tiers, help="the tenant's tier (default: as it is)")
    issue.add_argument("--subject", default=None, help="the user's id (sub); default: a random one")

    clients = commands.add_parser("clients", help="OAuth 2.0 clients of third parties (client credentials)")
    clients.add_argument("--table-region", type=region_name, default=config.PRIMARY_REGION)
    clients.add_argument(
        "--user-pool-id", default=None, help="Cognito user pool on AWS (default: $JOBSCHED_USER_POOL_ID)"
    )
    clients.add_argument("--state-dir", type=Path, default=Path(".jobsched"), help="the local runtime's")
    client_commands = clients.add_subparsers(
        dest="clients_command", required=True, metavar="{create,list,revoke}"
    )
    create = client_commands.add_parser("create", help="make a client; prints its id and secret once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated: jobs.read,jobs.write,...")
    create.add_argument("--role", default="operator", choices=roles, help="default: %(default)s")
    create.add_argument("--tags", default=None, help="limit the client to jobs with these tags")
    create.add_argument("--tier", default=None, choices=tiers, help="the tenant's tier (default: as it is)")
    client_commands.add_parser("list", help="list clients (never secrets)").add_argument("--tenant")
    client_commands.add_parser("revoke", help="revoke a client").add_argument(
        "client_id", metavar="CLIENT_ID"
    )


def add_regions_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    regions = commands.add_parser("regions", help="failover drills: mark a region unhealthy, and back")
    region_commands = regions.add_subparsers(
        dest="regions_command", required=True, metavar="{fail,restore,status}"
    )
    fail_parser = region_commands.add_parser(
        "fail", help="mark a region unhealthy: its deep health answers 503, Route 53 takes it out of DNS"
    )
    restore_parser = region_commands.add_parser("restore", help="remove a region's unhealthy mark")
    for sub in (fail_parser, restore_parser):
        sub.add_argument("--region", type=region_name, required=True, help="the region of the drill")
    fail_parser.add_argument("--note", default="", help="why (shown by `jobsched regions status`)")
    status_parser = region_commands.add_parser(
        "status", help="which configured regions are marked, and each region's last heartbeat"
    )
    for sub in (fail_parser, restore_parser, status_parser):
        add_table_region(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "local":
        return run_local(parser, args)
    if args.command in ("tenants", "targets"):
        return run_aws_command(lambda: _target_access(args))
    if args.command == "jobs" and args.jobs_command == "issue-fire-tokens":
        return run_aws_command(lambda: _issue_fire_tokens(args))
    if args.command == "jobs":
        return run_jobs_move(parser, args)
    if args.command == "dlq":
        return run_dlq_redrive(args)
    if args.command == "regions":
        return run_regions(parser, args)
    if args.command == "archive":
        return run_archive_command(args)
    if args.command in ("tokens", "clients"):
        return run_identity(parser, args)
    return run_keys(parser, args)


def run_local(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    port = _option_or_env(parser, args.port, "PORT", str(DEFAULT_PORT), port_number)
    regions = _configured_regions(parser, None)
    if args.region not in regions:
        parser.error(
            f"argument --region: {args.region} is not one of the configured regions {','.join(regions)}"
        )
    allow_targets = _allowed_targets(parser, args.allow_targets, own_ports=(port, args.aws_port))
    # The local runtime is imported for this command only: moto and werkzeug load in ~1 s, which the
    # operator commands against AWS should not pay (and they never need the runtime's package).
    from jobsched_local.runtime import RuntimeOptions, run

    workers = _option_or_env(parser, args.workers, WORKERS_ENV, str(default_pool_size()), worker_count)
    clock_file = _clock_file(parser, args.clock_file)

    options = RuntimeOptions(
        host=args.host,
        port=port,
        aws_port=args.aws_port,
        state_dir=args.state_dir,
        region=args.region,
        regions=regions,
        allow_targets=allow_targets,
        workers_per_function=workers,
        clock_file=clock_file,
    )
    return run(options)


def _clock_file(parser: argparse.ArgumentParser, option: Path | None) -> Path | None:
    """--clock-file, else $JOBSCHED_LOCAL_CLOCK_FILE; refused unless it holds an offset and the test
    dependency that shifts the clock is installed."""
    from jobsched_local.shifted_clock import CLOCK_FILE_ENV, ClockFileError, read_offset

    path = option or (Path(os.environ[CLOCK_FILE_ENV]) if os.environ.get(CLOCK_FILE_ENV) else None)
    if path is None:
        return None
    try:
        read_offset(path)
    except (ClockFileError, OSError) as exc:
        parser.error(f"argument --clock-file: {exc}")
    if importlib.util.find_spec("time_machine") is None:
        parser.error("argument --clock-file: needs time-machine (a development dependency: make setup)")
    return path


def _option_or_env(
    parser: argparse.ArgumentParser,
    value: T | None,
    variable: str,
    default: str,
    parse: Callable[[str], T],
) -> T:
    """The option's value, else the environment variable's (or the default), parsed; a bad one is named."""
    if value is not None:
        return value
    try:
        return parse(os.environ.get(variable) or default)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"environment variable {variable}: {exc}")


def _allowed_targets(
    parser: argparse.ArgumentParser, from_options: list[str] | None, own_ports: tuple[int, ...]
) -> tuple[str, ...]:
    """--allow-target entries, then $JOBSCHED_ALLOW_TARGETS's; the runtime's own ports are refused."""
    allow_targets = list(from_options or [])
    for entry in os.environ.get("JOBSCHED_ALLOW_TARGETS", "").split(","):
        if entry.strip():
            try:
                allow_targets.append(host_port(entry))
            except argparse.ArgumentTypeError as exc:
                parser.error(f"environment variable JOBSCHED_ALLOW_TARGETS: {exc}")
    for entry in allow_targets:
        if entry.rpartition(":")[2] in {str(port) for port in own_ports}:
            parser.error(
                f"argument --allow-target: {entry} is one of the runtime's own ports, never a target"
            )
    return tuple(dict.fromkeys(allow_targets))


def run_keys(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched.keys.adapters.key_service import make_key_service
    from jobsched_cli import key_commands
    from jobsched_cli.aws_session import client_factory, make_session

    regions = _configured_regions(parser, args.regions)

    def command() -> int:
        clients = client_factory(make_session())
        service = make_key_service(clients, args.table_region, regions)
        audit = _audit_log(clients, args.table_region)
        if args.keys_command == "create":
            tags = parse_tag_scope(args.tags)
            key_commands.create_key(
                service, args.tenant, args.tier, args.role, regions, sys.stdout, tags, audit=audit
            )
        elif args.keys_command == "list":
            key_commands.list_keys(service, args.tenant, sys.stdout)
        else:
            key_commands.revoke_key(service, args.key_id, regions, sys.stdout, audit=audit)
        return 0

    return run_aws_command(command)


def run_identity(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched.keys.adapters.key_service import make_key_service
    from jobsched_cli import identity_commands
    from jobsched_cli.aws_session import client_factory, endpoint_url, is_loopback, make_session
    from jobsched_local.token_issuer import LocalIssuer, parse_ttl

    regions = _configured_regions(parser, None)
    issuing = args.command == "tokens" and args.tokens_command == "issue"
    local = issuing or is_loopback(endpoint_url())

    def command() -> int:
        if issuing and not is_loopback(endpoint_url()):
            # The local issuer's tokens are only good for the local runtime: its tables, never AWS's.
            os.environ["AWS_ENDPOINT_URL"] = LocalIssuer.aws_endpoint_of(args.state_dir)
        clients = client_factory(make_session())
        keys = make_key_service(clients, args.table_region, regions)
        if args.command == "tokens" and args.tokens_command == "enable":
            identity_commands.enable_tokens(keys, args.tenant, args.tier, sys.stdout)
        elif args.command == "tokens":
            identity_commands.issue_token(
                LocalIssuer.of_state_dir(args.state_dir),
                keys,
                tenant=args.tenant,
                role=args.role,
                scopes=parse_scopes(args.scopes) if args.scopes is not None else None,
                tags=parse_tag_scope(args.tags),
                ttl_seconds=parse_ttl(args.ttl),
                tier=args.tier,
                subject=args.subject,
                out=sys.stdout,
            )
        else:
            service = _client_service(clients, args, local=local)
            if args.clients_command == "create":
                identity_commands.create_client(
                    service,
                    keys,
                    tenant=args.tenant,
                    role=args.role,
                    scopes=parse_scopes(args.scopes),
                    tags=parse_tag_scope(args.tags),
                    tier=args.tier,
                    token_url=_token_url(args, local),
                    out=sys.stdout,
                    audit=_audit_log(clients, args.table_region),
                )
            elif args.clients_command == "list":
                identity_commands.list_clients(service, args.tenant, sys.stdout)
            else:
                identity_commands.revoke_client(
                    service, args.client_id, sys.stdout, audit=_audit_log(clients, args.table_region)
                )
        return 0

    return run_aws_command(command)


def _audit_log(clients: Callable[[str, str], Any], table_region: str) -> Any:
    """The tenants' audit trail in the jobs table, where operators' key and client management is recorded."""
    from jobsched import config
    from jobsched.keys.adapters.audit_log import DynamoAuditLog

    return DynamoAuditLog(clients("dynamodb", table_region), config.JOBS_TABLE)


def _client_service(clients: Callable[[str, str], Any], args: argparse.Namespace, local: bool) -> Any:
    """Clients of the local issuer against the local runtime; Cognito app clients on AWS."""
    from jobsched.keys.adapters.client_store import DynamoClientStore
    from jobsched.keys.clients import ClientService, LocalClientRegistry

    store = DynamoClientStore(clients("dynamodb", args.table_region), config.JOBS_TABLE)
    if local:
        return ClientService(store, LocalClientRegistry())
    from jobsched.keys.adapters.cognito_clients import CognitoClientRegistry

    pool = args.user_pool_id or os.environ.get("JOBSCHED_USER_POOL_ID")
    if not pool:
        raise InvalidInput.field(
            "--user-pool-id", "name the Cognito user pool (or set JOBSCHED_USER_POOL_ID)"
        )
    return ClientService(store, CognitoClientRegistry(clients("cognito-idp", args.table_region), pool))


def _token_url(args: argparse.Namespace, local: bool) -> str:
    from jobsched_local.token_issuer import TOKEN_PATH, LocalIssuer

    if local:
        return LocalIssuer.of_state_dir(args.state_dir).issuer_url + TOKEN_PATH
    return os.environ.get("JOBSCHED_TOKEN_URL", "the TokenEndpoint output of the primary region's stack")


def run_dlq_redrive(args: argparse.Namespace) -> int:
    from jobsched_cli.aws_session import client_factory, make_session
    from jobsched_cli.dlq_redrive import format_summary, redrive

    if args.max is not None and args.max < 1:
        return fail("--max must be at least 1")

    def command() -> int:
        sqs = client_factory(make_session())("sqs", args.region)
        summary = redrive(sqs, max_messages=args.max, progress_to=sys.stderr)
        print(format_summary(summary, args.region))
        return 0 if summary.failed == 0 else 1

    return run_aws_command(command)


def run_archive_command(args: argparse.Namespace) -> int:
    from jobsched_cli.aws_session import client_factory, make_session
    from jobsched_local.archive_commands import parse_age, run_archive

    try:
        older_than = parse_age(args.older_than)
    except ValueError as exc:
        return fail(f"--older-than: {exc}")

    def command() -> int:
        dynamodb = client_factory(make_session())("dynamodb", args.region)
        count, jobs = run_archive(dynamodb, args.state_dir, older_than)
        print(f"archived {count} executions of {jobs} jobs into {args.state_dir.resolve() / 'archive'}")
        return 0

    return run_aws_command(command)


def run_jobs_move(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched_cli.aws_session import client_factory, make_session
    from jobsched_cli.job_commands import move_home_region

    regions = _configured_regions(parser, None)

    def command() -> int:
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
        return 0 if not summary.failed else 1

    return run_aws_command(command)


def _issue_fire_tokens(args: argparse.Namespace) -> int:
    from jobsched_cli.aws_session import client_factory, make_session
    from jobsched_cli.job_commands import issue_fire_tokens

    issue_fire_tokens(
        client_factory(make_session())("dynamodb", args.table_region), out=sys.stdout, progress_to=sys.stderr
    )
    return 0


def _target_access(args: argparse.Namespace) -> int:
    from jobsched_cli import tenant_commands
    from jobsched_cli.aws_session import client_factory, make_session

    dynamodb = client_factory(make_session())("dynamodb", args.table_region)
    if args.command == "tenants" and args.tenants_command == "set-role":
        tenant_commands.set_role(dynamodb, args.tenant, None if args.clear else args.role_arn, sys.stdout)
    elif args.command == "tenants":
        tenant_commands.show(dynamodb, args.tenant, sys.stdout)
    elif args.targets_command == "allow":
        tenant_commands.allow(dynamodb, args.tenant, args.arn, sys.stdout)
    elif args.targets_command == "deny":
        tenant_commands.deny(dynamodb, args.tenant, args.arn, sys.stdout)
    else:
        tenant_commands.list_allowed(dynamodb, args.tenant, sys.stdout)
    return 0


def run_aws_command(command: Callable[[], int]) -> int:
    """Run an operator command against AWS (or the local runtime), turning its failures into one line."""
    from jobsched_cli.aws_session import endpoint_url

    try:
        return command()
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


def run_regions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jobsched.execution.adapters.heartbeats import DynamoHeartbeats
    from jobsched.health.adapters.checks import DynamoDrillMarkers
    from jobsched_cli import region_commands
    from jobsched_cli.aws_session import client_factory, make_session

    if len(getattr(args, "note", "")) > region_commands.MAX_NOTE_LENGTH:
        return fail(f"--note is longer than {region_commands.MAX_NOTE_LENGTH} characters")
    regions = _configured_regions(parser, None)
    if args.regions_command != "status" and args.region not in regions:
        return fail(f"--region {args.region} is not one of the configured regions {','.join(regions)}")

    def command() -> int:
        dynamodb = client_factory(make_session())("dynamodb", args.table_region)
        markers = DynamoDrillMarkers(dynamodb, config.JOBS_TABLE)
        if args.regions_command == "fail":
            region_commands.mark_unhealthy(markers, args.region, args.note, sys.stdout)
        elif args.regions_command == "restore":
            region_commands.restore(markers, args.region, sys.stdout)
        else:
            heartbeats = DynamoHeartbeats(dynamodb, config.JOBS_TABLE)
            region_commands.status(markers, regions, sys.stdout, heartbeats)
        return 0

    return run_aws_command(command)


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
