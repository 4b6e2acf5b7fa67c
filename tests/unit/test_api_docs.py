"""The local runtime serves the committed contract and a Swagger UI page that needs no internet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Response

from jobsched_local.api_docs import with_api_docs


def api(environ: dict[str, Any], start_response: Any) -> Any:
    return Response('{"from": "api"}', content_type="application/json")(environ, start_response)


def test_contract_and_swagger_ui_are_served(tmp_path: Path) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text(json.dumps({"openapi": "3.1.0", "paths": {}}), encoding="utf-8")
    client = Client(with_api_docs(api, contract))

    served = client.get("/openapi.json")
    assert served.status_code == 200 and served.json == {"openapi": "3.1.0", "paths": {}}

    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/docs/swagger-ui-bundle.min.js" in html and 'url: "/openapi.json"' in html
    assert "https://" not in html  # no CDN: the assets come from the runtime itself

    script = client.get("/docs/swagger-ui-bundle.min.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.get_data()
    assert client.get("/docs/swagger-ui.min.css").status_code == 200


def test_everything_else_goes_to_the_api(tmp_path: Path) -> None:
    contract = tmp_path / "openapi.json"
    contract.write_text("{}", encoding="utf-8")
    client = Client(with_api_docs(api, contract))
    assert client.get("/api/v1/jobs").json == {"from": "api"}
    assert client.post("/openapi.json").json == {"from": "api"}
