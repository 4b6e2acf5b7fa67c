"""The API contract and Swagger UI, served by the local runtime next to the API.

/openapi.json is the committed contract (docs/openapi.json); /docs is Swagger UI, with its script and
stylesheet taken from the copy Powertools ships, so the page works without internet access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jobsched_local.openapi import CONTRACT_PATH

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Job Scheduler API</title>
<link rel="stylesheet" href="/docs/swagger-ui.min.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.min.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});</script>
</body></html>
"""


def _swagger_assets() -> Path:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    return Path(swagger_ui.__file__).parent


def _documents(contract: Path) -> dict[str, tuple[str, Callable[[], bytes]]]:
    assets = _swagger_assets()
    return {
        "/openapi.json": ("application/json", contract.read_bytes),
        "/docs": ("text/html; charset=utf-8", lambda: _PAGE.encode("utf-8")),
        "/docs/swagger-ui-bundle.min.js": (
            "application/javascript",
            (assets / "swagger-ui-bundle.min.js").read_bytes,
        ),
        "/docs/swagger-ui.min.css": ("text/css", (assets / "swagger-ui.min.css").read_bytes),
    }


def with_api_docs(app: WsgiApp, contract: Path = CONTRACT_PATH) -> WsgiApp:
    """Serve the contract and Swagger UI on GET; everything else goes to ``app``."""
    documents = _documents(contract)

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "GET" and path in documents:
            content_type, read = documents[path]
            body = read()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return serve
