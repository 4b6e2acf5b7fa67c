"""How the gateway reads an authorizer's answer and caches only allows."""

from __future__ import annotations

from typing import Any

import pytest

from jobsched_local.authorizer_gate import CachingAuthorizer, Decision, evaluate, policy_allows

ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/api/v1/jobs"


def policy(effect: str, resource: str | list[str], action: str = "execute-api:Invoke") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
    }


@pytest.mark.parametrize(
    ("document", "allowed"),
    [
        (policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api1/prod/*/*"), True),
        (policy("Allow", ARN), True),
        (policy("Allow", "*", action="execute-api:*"), True),
        (policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api1/dev/*/*"), False),
        (policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:api1/prod/POST/*"), False),
        (policy("Allow", ARN, action="s3:GetObject"), False),
        (policy("Deny", "*"), False),
        ({"Statement": []}, False),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
                    {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [ARN]},
                ]
            },
            False,
        ),
    ],
)
def test_policy_evaluation(document: dict[str, Any], allowed: bool) -> None:
    assert policy_allows(document, ARN) is allowed


def test_allow_passes_context_as_strings_with_principal() -> None:
    answer = {
        "principalId": "key_1",
        "policyDocument": policy("Allow", "*"),
        "context": {"tenant": "t", "n": 3},
    }
    result = evaluate(answer, ARN)
    assert result.decision is Decision.ALLOW
    assert result.context["tenant"] == "t"
    assert result.context["n"] == "3"
    assert result.context["principalId"] == "key_1"


def test_answer_without_policy_is_an_error() -> None:
    assert evaluate({"principalId": "x"}, ARN).decision is Decision.ERROR


class CountingAuthorizer:
    """Answers like functions/authorizer: allow for 'good', raise Unauthorized otherwise."""

    def __init__(self) -> None:
        self.calls = 0
        self.deny = False

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls += 1
        key = event["headers"]["x-api-key"]
        if key != "good":
            raise Exception("Unauthorized")
        effect = "Deny" if self.deny else "Allow"
        return {"principalId": "key_1", "policyDocument": policy(effect, "*"), "context": {"tenant": "t"}}


def event_for(key: str) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": ARN, "headers": {"x-api-key": key}}


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_are_cached_for_the_ttl() -> None:
    handler, clock = CountingAuthorizer(), Clock()
    gate = CachingAuthorizer(handler, "us-east-1", ttl=300, clock=clock)
    assert gate.authorize("good", event_for("good")).decision is Decision.ALLOW
    assert gate.authorize("good", event_for("good")).decision is Decision.ALLOW
    assert handler.calls == 1
    clock.now += 301
    gate.authorize("good", event_for("good"))
    assert handler.calls == 2


def test_unauthorized_is_never_cached() -> None:
    handler = CountingAuthorizer()
    gate = CachingAuthorizer(handler, "us-east-1", clock=Clock())
    for _ in range(2):
        assert gate.authorize("bad", event_for("bad")).decision is Decision.UNAUTHORIZED
    assert handler.calls == 2


def test_deny_is_reported_and_not_cached() -> None:
    handler = CountingAuthorizer()
    handler.deny = True
    gate = CachingAuthorizer(handler, "us-east-1", clock=Clock())
    assert gate.authorize("good", event_for("good")).decision is Decision.DENY
    handler.deny = False
    assert gate.authorize("good", event_for("good")).decision is Decision.ALLOW


def test_authorizer_crash_is_an_error() -> None:
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("table missing")

    gate = CachingAuthorizer(broken, "us-east-1", clock=Clock())
    assert gate.authorize("good", event_for("good")).decision is Decision.ERROR
