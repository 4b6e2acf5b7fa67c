"""`jobsched tenants` and `jobsched targets` on moto: what operators grant a tenant for AWS targets."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.errors import InvalidInput
from jobsched.targets.adapters.access_store import AccessUnreadable, DynamoTargetAccessStore
from jobsched_cli import tenant_commands
from jobsched_cli.main import main

pytestmark = pytest.mark.usefixtures("aws")
TOPIC = "arn:aws:sns:us-east-1:123456789012:acme-reports"
ROLE = "arn:aws:iam::111122223333:role/jobsched-target"


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def test_set_show_and_clear_the_tenants_role() -> None:
    out = io.StringIO()
    tenant_commands.set_role(dynamodb(), "acme", ROLE, out)
    assert "account 111122223333" in out.getvalue() and "ExternalId 'acme'" in out.getvalue()
    shown = io.StringIO()
    tenant_commands.show(dynamodb(), "acme", shown)
    assert f"target role: {ROLE}" in shown.getvalue() and "external id: acme" in shown.getvalue()

    tenant_commands.set_role(dynamodb(), "acme", None, io.StringIO())
    cleared = io.StringIO()
    tenant_commands.show(dynamodb(), "acme", cleared)
    assert "target role: (none)" in cleared.getvalue() and "external id" not in cleared.getvalue()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda: tenant_commands.set_role(dynamodb(), "acme", "arn:aws:iam::1:role/x", io.StringIO()),
            "--role-arn",
        ),
        (lambda: tenant_commands.allow(dynamodb(), "acme", "not-an-arn", io.StringIO()), "ARN"),
        (
            lambda: tenant_commands.allow(
                dynamodb(),
                "acme",
                "arn:aws:states:us-east-1:999999999999:stateMachine:jobsched-x",
                io.StringIO(),
            ),
            "ARN",
        ),
        (lambda: tenant_commands.allow(dynamodb(), "Not A Tenant", TOPIC, io.StringIO()), "tenant"),
    ],
)
def test_bad_input_is_refused_naming_what_was_wrong_and_nothing_is_stored(call: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        call()
    assert refused.value.details[0]["field"] == field
    assert list(DynamoTargetAccessStore(dynamodb(), config.JOBS_TABLE).allowed("acme")) == []


def test_allow_list_and_deny_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets", "list", "--tenant", "acme"]) == 0
    assert "no allow-listed targets" in capsys.readouterr().out
    assert main(["targets", "allow", "--tenant", "acme", TOPIC]) == 0
    assert main(["targets", "list", "--tenant", "acme"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == TOPIC
    assert main(["targets", "deny", "--tenant", "acme", TOPIC]) == 0
    assert "removed from the allow-list" in capsys.readouterr().out
    assert main(["targets", "deny", "--tenant", "acme", TOPIC]) == 0
    assert "was not on the allow-list" in capsys.readouterr().out
    assert main(["tenants", "set-role", "--tenant", "acme", "--role-arn", "arn:aws:iam::1:role/x"]) == 1
    assert "--role-arn" in capsys.readouterr().err


def test_a_throttled_read_of_the_grants_is_an_error_not_a_denial() -> None:
    class Throttled:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    with pytest.raises(AccessUnreadable):
        DynamoTargetAccessStore(Throttled(), config.JOBS_TABLE).access("acme", TOPIC)
