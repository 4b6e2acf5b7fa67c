"""The committed API contract matches the code: an unintended change to the API fails here."""

from __future__ import annotations

from jobsched.api.routes import ANY, ROUTES
from jobsched_local.openapi import CONTRACT_PATH, build_contract, main, render


def test_committed_contract_is_what_the_code_generates() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == render(build_contract()), (
        "docs/openapi.json differs from the code: run `make openapi` and review the diff"
    )


def test_contract_covers_every_route_with_the_error_envelope() -> None:
    contract = build_contract()
    paths = contract["paths"]
    assert set(paths) >= {"/health", "/api/v1/jobs", "/api/v1/jobs/{job_id}"}
    assert paths["/health"]["get"]["security"] == []
    assert set(paths["/api/v1/jobs"]) == {"get", "post"}
    assert set(paths["/api/v1/jobs/{job_id}"]) == {"get", "put", "delete"}
    for path, operations in paths.items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses)
            for status, response in responses.items():
                if status.startswith("4") and status not in ("401", "403", "429"):
                    assert response["content"]["application/json"]["schema"]["$ref"].endswith(
                        "/ErrorEnvelope"
                    )
    assert paths["/api/v1/jobs"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobView"
    }
    assert "HTTPValidationError" not in contract["components"]["schemas"]
    assert contract["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }


def test_check_mode_reports_a_stale_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--path", str(stale)]) == 1
    assert main(["--path", str(stale)]) == 0
    assert main(["--check", "--path", str(stale)]) == 0


def test_every_route_of_the_table_is_an_operation_of_the_contract_and_nothing_else_is() -> None:
    """The functions' resolvers serve exactly the route table: a route no handler serves would answer the
    function's 404, and an operation no route sends there would be unreachable behind API Gateway."""
    contract = build_contract()
    documented = {
        (method.upper(), path) for path, operations in contract["paths"].items() for method in operations
    }
    assert documented == {(route.method, route.resource) for route in ROUTES if route.method != ANY}
