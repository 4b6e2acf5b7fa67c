"""`jobsched keys ...` end to end against moto, in-process: what an operator sees and what ends up in AWS."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
import pytest

from jobsched import config
from jobsched.keys.adapters.audit_log import DynamoAuditLog
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.keys.admin import OPERATOR_ACTOR, AuditAction
from jobsched.keys.models import KeyStatus, hash_key
from jobsched_cli.main import main
from jobsched_local.provision import ensure_api


@pytest.fixture
def apis(aws: None) -> None:
    for region in config.REGIONS:
        ensure_api(boto3.client("apigateway", region_name=region))


def store() -> DynamoKeyStore:
    return DynamoKeyStore(boto3.client("dynamodb", region_name=config.PRIMARY_REGION), config.JOBS_TABLE)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def create(capsys: pytest.CaptureFixture[str], tenant: str = "acme", tier: str = "basic") -> tuple[str, str]:
    code, out, _ = run(["keys", "create", "--tenant", tenant, "--tier", tier, "--role", "operator"], capsys)
    assert code == 0
    value = out.splitlines()[-1]
    record = store().get_by_hash(hash_key(value))
    assert record is not None
    return record.key_id, value


def test_create_prints_a_summary_then_the_value_last(apis: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["keys", "create", "--tenant", "acme", "--tier", "premium", "--role", "admin"], capsys
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    value = lines[-1]
    assert value.startswith("jsk_") and " " not in value
    assert out.count(value) == 1
    record = store().get_by_hash(hash_key(value))
    assert record is not None
    assert (record.tenant, record.role.value, record.tier.value) == ("acme", "admin", "premium")
    assert record.key_id in lines[0] and all(region in lines[0] for region in config.REGIONS)
    for region in config.REGIONS:
        keys = boto3.client("apigateway", region_name=region).get_api_keys(includeValues=True)["items"]
        assert [k["value"] for k in keys] == [value]


def test_list_shows_keys_but_never_values(apis: None, capsys: pytest.CaptureFixture[str]) -> None:
    acme_id, acme_value = create(capsys, "acme")
    other_id, _ = create(capsys, "other", "standard")
    code, out, _ = run(["keys", "list"], capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["KEY", "ID", "TENANT", "ROLE", "TIER", "STATUS", "CREATED"]
    assert {row.split()[0] for row in rows} == {acme_id, other_id}
    assert acme_value not in out and "jsk_" not in out
    code, out, _ = run(["keys", "list", "--tenant", "other"], capsys)
    (row,) = out.splitlines()[1:]
    assert row.split()[:5] == [other_id, "other", "operator", "standard", "active"]
    code, out, _ = run(["keys", "list", "--tenant", "nobody"], capsys)
    assert (code, out.strip()) == (0, "No API keys for tenant nobody.")


def test_revoke_takes_effect_in_every_region(apis: None, capsys: pytest.CaptureFixture[str]) -> None:
    key_id, _ = create(capsys)
    code, out, _ = run(["keys", "revoke", key_id], capsys)
    assert code == 0 and key_id in out
    record = store().get(key_id)
    assert record is not None and record.status is KeyStatus.REVOKED
    for region in config.REGIONS:
        assert boto3.client("apigateway", region_name=region).get_api_keys()["items"] == []


def test_an_operators_create_and_revoke_are_in_the_tenants_audit_trail(
    apis: None, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id, _ = create(capsys)
    assert run(["keys", "revoke", key_id], capsys)[0] == 0
    audit = DynamoAuditLog(boto3.client("dynamodb", region_name=config.PRIMARY_REGION), config.JOBS_TABLE)
    records, _ = audit.page("acme", 10, None)
    assert [(r.action, r.target, r.actor) for r in records] == [
        (AuditAction.KEY_REVOKED, key_id, OPERATOR_ACTOR),
        (AuditAction.KEY_CREATED, key_id, OPERATOR_ACTOR),
    ]
    assert audit.page("other", 10, None)[0] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "revoke", "key_missing"], "no API key with id key_missing"),
        (["keys", "create", "--tenant", "Bad_Tenant", "--tier", "basic", "--role", "admin"], "tenant"),
        (["keys", "list", "--tenant", "UPPER"], "tenant"),
    ],
)
def test_domain_errors_print_their_message(
    apis: None, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(argv, capsys)
    assert code == 1
    assert message in err and "Traceback" not in err


def test_a_region_missing_its_usage_plan_is_reported(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_api(boto3.client("apigateway", region_name="us-east-1"))
    argv = [
        "keys",
        "--regions",
        "us-east-1,eu-west-1",
        "create",
        "--tenant",
        "a",
        "--tier",
        "basic",
        "--role",
        "admin",
    ]
    code, _, err = run(argv, capsys)
    assert code == 1
    assert "usage plan jobsched-basic does not exist in eu-west-1" in err
    assert boto3.client("apigateway", region_name="us-east-1").get_api_keys()["items"] == []


def test_regions_come_from_the_environment(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_api(boto3.client("apigateway", region_name="eu-west-1"))
    monkeypatch.setenv("JOBSCHED_REGIONS", "eu-west-1")
    create(capsys)
    assert len(boto3.client("apigateway", region_name="eu-west-1").get_api_keys()["items"]) == 1
    assert boto3.client("apigateway", region_name="us-east-1").get_api_keys()["items"] == []


def test_missing_table_is_an_aws_error_not_a_traceback(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # A region where the data stack is not deployed has no table (DynamoDB Local has one for all regions).
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    if config.JOBS_TABLE in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=config.JOBS_TABLE)
    code, _, err = run(["keys", "--table-region", "eu-west-1", "--regions", "eu-west-1", "list"], capsys)
    assert code == 1
    assert "ResourceNotFoundException" in err and "Traceback" not in err


CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_credentials_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_credentials(monkeypatch, tmp_path)
    code, _, err = run(["keys", "list"], capsys)
    assert code == 1
    assert "no AWS credentials found" in err and "Traceback" not in err


def test_unreachable_local_endpoint_names_it_and_suggests_the_runtime(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unused_port: int
) -> None:
    # No credentials either: against a loopback endpoint the CLI signs with dummy ones and gets as far as
    # connecting.
    without_credentials(monkeypatch, tmp_path)
    endpoint = f"http://127.0.0.1:{unused_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code, _, err = run(["keys", "list"], capsys)
    assert code == 1
    assert endpoint in err and "jobsched local" in err and "Traceback" not in err


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
