"""Keys, users' tokens and OAuth clients' tokens through the same routes of the local runtime.

Tokens come from the runtime's own issuer: `jobsched tokens issue` for users, POST /oauth2/token for
clients made by `jobsched clients create`; expired and forged tokens are signed here with the state
dir's key (as anyone holding it could), so no test waits for a clock.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlencode

from jobsched_local.token_issuer import LocalIssuer
from tests.e2e.conftest import REPO_ROOT, Reply, RuntimeProcess, call, clean_env
from tests.e2e.test_execution_e2e import wait_for


def cli(runtime: RuntimeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(HOME=str(runtime.state_dir.parent))
    command = [sys.executable, "-m", "jobsched_cli.main", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def user_token(runtime: RuntimeProcess, tenant: str, role: str, *extra: str) -> str:
    result = cli(
        runtime,
        "tokens",
        "--state-dir",
        str(runtime.state_dir),
        "issue",
        "--tenant",
        tenant,
        "--role",
        role,
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def make_client(runtime: RuntimeProcess, tenant: str, scopes: str, *extra: str) -> tuple[str, str]:
    env_args = ("clients", "--state-dir", str(runtime.state_dir))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobsched_cli.main",
            *env_args,
            "create",
            "--tenant",
            tenant,
            "--scopes",
            scopes,
            *extra,
        ],
        cwd=REPO_ROOT,
        env=clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    client_id = next(
        line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("client_id:")
    )
    return client_id, result.stdout.splitlines()[-1]


def form_post(port: int, path: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
        )
        response = connection.getresponse()
        return Reply(response.status, dict(response.getheaders()), json.loads(response.read()))
    finally:
        connection.close()


def client_token(port: int, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    reply = form_post(
        port, "/oauth2/token", {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
    )
    assert reply.status == 200, reply.body
    assert reply.body["token_type"] == "Bearer"
    return str(reply.body["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def job(name: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "tags": tags or {},
        "schedule": {"expression": "rate(1 day)"},
        "target": {"type": "http", "url": "https://hooks.example.com/identity"},
    }


def test_a_users_token_works_like_a_key_of_its_role_and_records_who_wrote(runtime: RuntimeProcess) -> None:
    port = runtime.port
    operator = user_token(runtime, "id-acme", "operator", "--subject", "alice", "--tier", "premium")
    created = call(port, "POST", "/api/v1/jobs", body=job("by alice"), headers=bearer(operator))
    assert created.status == 201, created.body
    assert created.body["created_by"] == created.body["updated_by"] == "user:alice"
    path = f"/api/v1/jobs/{created.body['job_id']}"

    viewer = user_token(runtime, "id-acme", "viewer")
    assert call(port, "GET", path, headers=bearer(viewer)).status == 200
    refused = call(port, "POST", "/api/v1/jobs", body=job("by a viewer"), headers=bearer(viewer))
    assert refused.status == 403 and "viewer" in refused.body["error"]["message"]

    # Another tenant's user sees nothing of it.
    stranger = user_token(runtime, "id-globex", "admin")
    assert call(port, "GET", path, headers=bearer(stranger)).status == 404

    # Run-now records who asked for it on the execution.
    run = call(port, "POST", path + "/run", headers=bearer(operator))
    assert run.status == 202
    execution = f"/api/v1/executions/{created.body['job_id']}/{run.body['execution_id']}"
    seen = wait_for(
        lambda: (r := call(port, "GET", execution, headers=bearer(viewer))).status == 200 and r, "run"
    )
    assert seen.body["triggered_by"] == "user:alice"


def test_roles_differ_admin_alone_rotates_webhook_secrets(runtime: RuntimeProcess) -> None:
    port = runtime.port
    _, admin = runtime.create_key("id-roles", "premium", "admin")
    _, operator = runtime.create_key("id-roles", "premium", "operator")
    path = (
        "/api/v1/jobs/" + call(port, "POST", "/api/v1/jobs", key=operator, body=job("roles")).body["job_id"]
    )
    assert call(port, "POST", path + "/webhook-secret", key=operator).status == 403
    assert call(port, "POST", path + "/webhook-secret", key=admin).status == 200
    assert call(port, "POST", "/api/v1/schedule/" + path.rsplit("/", 1)[1], key=operator).status == 200


def test_expired_tampered_and_foreign_tokens_get_401(runtime: RuntimeProcess) -> None:
    port = runtime.port
    user_token(runtime, "id-expiry", "admin")  # enables the tenant for tokens
    issuer = LocalIssuer.of_state_dir(runtime.state_dir)
    expired = issuer.user_token("id-expiry", "admin", ttl_seconds=60, now=time.time() - 3600)
    header, payload, signature = issuer.user_token("id-expiry", "viewer").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:groups"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = f"{header}.{forged}.{signature}"
    other_key = LocalIssuer(runtime.state_dir.parent / "elsewhere", issuer.issuer_url).user_token(
        "id-expiry", "admin"
    )
    for token in (expired, tampered, other_key, "not-a-jwt"):
        reply = call(port, "GET", "/api/v1/jobs", headers=bearer(token))
        assert reply.status == 401, token
        assert reply.body == {"message": "Unauthorized"}
    assert call(port, "GET", "/api/v1/jobs", headers={"Authorization": "Basic eDp5"}).status == 401


def test_tag_scoped_key_and_token_see_and_make_only_their_jobs(runtime: RuntimeProcess) -> None:
    port = runtime.port
    _, admin = runtime.create_key("id-tags", "premium", "admin")
    billing = call(port, "POST", "/api/v1/jobs", key=admin, body=job("billing", {"team": "billing"})).body
    search = call(port, "POST", "/api/v1/jobs", key=admin, body=job("search", {"team": "search"})).body
    result = runtime.keys(
        "create", "--tenant", "id-tags", "--tier", "premium", "--role", "operator", "--tags", "team:billing"
    )
    assert result.returncode == 0, result.stderr
    scoped_key = {"x-api-key": result.stdout.splitlines()[-1]}
    scoped_token = bearer(user_token(runtime, "id-tags", "operator", "--tags", "team:billing"))
    theirs = [billing["job_id"]]
    for scoped in (scoped_key, scoped_token):
        listed = call(port, "GET", "/api/v1/jobs", headers=scoped).body["items"]
        assert [item["job_id"] for item in listed] == theirs
        assert call(port, "GET", f"/api/v1/jobs/{billing['job_id']}", headers=scoped).status == 200
        for method in ("GET", "DELETE"):
            assert call(port, method, f"/api/v1/jobs/{search['job_id']}", headers=scoped).status == 404
        assert call(port, "GET", f"/api/v1/executions/{search['job_id']}", headers=scoped).status == 404
        untagged = call(port, "POST", "/api/v1/jobs", body=job("untagged"), headers=scoped)
        assert untagged.status == 403 and untagged.body["error"]["details"][0]["field"] == "tags"
        tagged = call(port, "POST", "/api/v1/jobs", body=job("tagged", {"team": "billing"}), headers=scoped)
        assert tagged.status == 201
        theirs.append(tagged.body["job_id"])
    # The unscoped admin still sees every job of the tenant.
    assert len(call(port, "GET", "/api/v1/jobs", key=admin).body["items"]) == 4


def test_a_client_token_is_limited_by_its_scopes_and_stops_when_revoked(runtime: RuntimeProcess) -> None:
    port = runtime.port
    _, admin = runtime.create_key("id-client", "premium", "admin")
    job_id = call(port, "POST", "/api/v1/jobs", key=admin, body=job("for the partner")).body["job_id"]
    client_id, secret = make_client(runtime, "id-client", "jobs.read,executions.read")
    token = bearer(client_token(port, client_id, secret))

    assert call(port, "GET", f"/api/v1/jobs/{job_id}", headers=token).status == 200
    assert call(port, "GET", f"/api/v1/executions/{job_id}", headers=token).status == 200
    for method, path in (("POST", "/api/v1/jobs"), ("POST", f"/api/v1/jobs/{job_id}/run")):
        refused = call(port, method, path, body=job("nope") if path.endswith("jobs") else None, headers=token)
        assert refused.status == 403 and "scope" in refused.body["error"]["message"]

    # Client authentication in the body works as well; a wrong secret does not.
    body_auth = form_post(
        port,
        "/oauth2/token",
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert body_auth.status == 200
    wrong = form_post(
        port,
        "/oauth2/token",
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
    )
    assert wrong.status == 401 and wrong.body["error"] == "invalid_client"
    too_much = form_post(
        port,
        "/oauth2/token",
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "jobsched/jobs.write",
        },
    )
    assert too_much.status == 400 and too_much.body["error"] == "invalid_scope"

    revoked = subprocess.run(
        [sys.executable, "-m", "jobsched_cli.main", "clients", "revoke", client_id],
        cwd=REPO_ROOT,
        env=clean_env(AWS_ENDPOINT_URL=runtime.aws_endpoint, HOME=str(runtime.state_dir.parent)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert revoked.returncode == 0, revoked.stderr
    assert call(port, "GET", f"/api/v1/jobs/{job_id}", headers=token).status == 401


def test_the_issuer_publishes_its_keys(runtime: RuntimeProcess) -> None:
    keys = call(runtime.port, "GET", "/.well-known/jwks.json").body["keys"]
    assert [key["alg"] for key in keys] == ["RS256"] and "d" not in keys[0]
    discovery = call(runtime.port, "GET", "/.well-known/openid-configuration").body
    assert discovery["token_endpoint"].endswith("/oauth2/token")


def test_an_admin_hands_out_a_key_and_a_client_over_the_api_and_reads_the_audit(
    runtime: RuntimeProcess,
) -> None:
    port = runtime.port
    # Premium: the test makes more calls in a row than a basic key's burst of 3 allows.
    admin_id, admin = runtime.create_key("id-admin", "premium", "admin")
    made = call(port, "POST", "/api/v1/keys", key=admin, body={"role": "viewer"})
    assert made.status == 201 and made.body["tier"] == "premium"
    assert call(port, "GET", "/api/v1/jobs", key=made.body["value"]).status == 200
    assert (
        call(port, "GET", "/api/v1/keys", key=made.body["value"]).status == 403
    )  # viewers do not manage keys

    client = call(port, "POST", "/api/v1/clients", key=admin, body={"scopes": ["jobs.read"]})
    assert client.status == 201
    token = bearer(client_token(port, client.body["client_id"], client.body["client_secret"]))
    assert call(port, "GET", "/api/v1/jobs", headers=token).status == 200
    assert call(port, "GET", "/api/v1/audit", headers=token).status == 403  # never for a scoped token

    assert call(port, "DELETE", f"/api/v1/keys/{made.body['key_id']}", key=admin).status == 204
    assert call(port, "GET", "/api/v1/jobs", key=made.body["value"]).status == 401
    answer = call(port, "GET", "/api/v1/audit", key=admin)
    assert answer.status == 200, answer.body
    audit = answer.body["items"]
    # Newest first; the last is the operator's `jobsched keys create` of the admin key itself.
    assert [entry["action"] for entry in audit] == [
        "key.revoked",
        "client.created",
        "key.created",
        "key.created",
    ]
    assert (audit[-1]["actor"], audit[-1]["target"]) == ("operator:cli", admin_id)


def test_keys_user_tokens_and_client_tokens_are_isolated_alike_on_the_same_routes(
    runtime: RuntimeProcess,
) -> None:
    """One tag-scoped operator of each kind walks the same routes: its own jobs answer, and a job of its
    tenant outside its tags and another tenant's job answer 404 alike, whatever the credential."""
    port = runtime.port
    tenant, billing = "id-same", {"team": "billing"}
    _, admin = runtime.create_key(tenant, "premium", "admin")
    outside = call(port, "POST", "/api/v1/jobs", key=admin, body=job("search", {"team": "search"})).body
    _, foreign_admin = runtime.create_key("id-same-other", "premium", "admin")
    foreign = call(port, "POST", "/api/v1/jobs", key=foreign_admin, body=job("foreign", billing)).body

    made = runtime.keys(
        "create", "--tenant", tenant, "--tier", "premium", "--role", "operator", "--tags", "team:billing"
    )
    assert made.returncode == 0, made.stderr
    # Token callers share the tenant's usage key: premium, as the walk makes more calls than a standard burst.
    user = user_token(
        runtime, tenant, "operator", "--tags", "team:billing", "--subject", "erin", "--tier", "premium"
    )
    every_scope = "jobs.read,jobs.write,executions.read,executions.retry"
    client_id, secret = make_client(runtime, tenant, every_scope, "--tags", "team:billing")
    callers = {
        "key": {"x-api-key": made.stdout.splitlines()[-1]},
        "user": bearer(user),
        "client": bearer(client_token(port, client_id, secret)),
    }

    def walk(job_id: str, scoped: dict[str, str]) -> list[int]:
        """The statuses of the job routes for one job: read, replace, history, run, pause, resume."""
        path = f"/api/v1/jobs/{job_id}"
        return [
            call(port, "GET", path, headers=scoped).status,
            call(port, "PUT", path, body=job("replaced", billing), headers=scoped).status,
            call(port, "GET", f"/api/v1/executions/{job_id}", headers=scoped).status,
            call(port, "POST", path + "/run", headers=scoped).status,
            call(port, "DELETE", f"/api/v1/schedule/{job_id}", headers=scoped).status,
            call(port, "POST", f"/api/v1/schedule/{job_id}", headers=scoped).status,
        ]

    for kind, scoped in callers.items():
        created = call(port, "POST", "/api/v1/jobs", body=job(f"by {kind}", billing), headers=scoped)
        assert created.status == 201, (kind, created.body)
        own = created.body["job_id"]
        listed = [item["job_id"] for item in call(port, "GET", "/api/v1/jobs", headers=scoped).body["items"]]
        assert own in listed and outside["job_id"] not in listed, kind
        assert walk(own, scoped) == [200, 200, 200, 202, 200, 200], kind
        for other in (outside["job_id"], foreign["job_id"]):
            assert walk(other, scoped) == [404] * 6, (kind, other)
            assert call(port, "DELETE", f"/api/v1/jobs/{other}", headers=scoped).status == 404, kind
        assert call(port, "DELETE", f"/api/v1/jobs/{own}", headers=scoped).status == 204, kind

    # Nothing outside the scopes changed: both jobs are still there, at their first version.
    assert call(port, "GET", f"/api/v1/jobs/{outside['job_id']}", key=admin).body["version"] == 1
    assert call(port, "GET", f"/api/v1/jobs/{foreign['job_id']}", key=foreign_admin).body["version"] == 1
    # Each deletion is in the tenant's audit with who made it.
    audit = call(port, "GET", "/api/v1/audit", key=admin).body["items"]
    deleted_by = {entry["actor"] for entry in audit if entry["action"] == "job.deleted"}
    key_id = re.search(r"key_[a-z0-9]+", made.stdout)
    assert key_id is not None, made.stdout
    assert deleted_by == {key_id.group(0), "user:erin", f"client:{client_id}"}


def test_token_callers_are_held_to_their_tenants_tier_like_keys(runtime: RuntimeProcess) -> None:
    """A basic tenant's users and clients share its tier's bucket (the usage key the authorizer names);
    a premium tenant's token callers are not throttled by the same run of calls."""
    port = runtime.port
    user = bearer(user_token(runtime, "id-tier-basic", "viewer", "--tier", "basic"))
    client_id, secret = make_client(runtime, "id-tier-basic", "jobs.read")
    client = bearer(client_token(port, client_id, secret))
    basic = [call(port, "GET", "/api/v1/jobs", headers=(user, client)[n % 2]).status for n in range(30)]
    assert basic[0] == 200
    assert 429 in basic
    throttled = call(port, "GET", "/api/v1/jobs", headers=client)
    assert (throttled.status, throttled.body) == (429, {"message": "Too Many Requests"})

    premium = bearer(user_token(runtime, "id-tier-premium", "viewer", "--tier", "premium"))
    assert 429 not in [call(port, "GET", "/api/v1/jobs", headers=premium).status for _ in range(30)]
