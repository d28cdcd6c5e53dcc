"""The OpenAPI 3.1 document: committed copies match what the app serves, and it documents
every error as a problem."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from reference_impl.http.openapi_export import COPIES, render


def test_committed_copies_match_the_served_document(shop: TestClient) -> None:
    served = shop.get("/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    rendered = render()
    assert json.loads(rendered) == served
    for path in COPIES:
        assert path.read_text() == rendered, (
            f"{path} is stale: run python -m reference_impl.http.openapi_export"
        )


def test_every_operation_documents_its_errors_as_problems(shop: TestClient) -> None:
    spec = shop.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path in ("/healthz",):
                continue
            errors = {code for code in operation["responses"] if code.startswith("4")}
            assert errors, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in errors, (method, path)
            for code in errors:
                content = operation["responses"][code].get("content", {})
                assert "application/problem+json" in content, (method, path, code)


def test_security_schemes_are_declared(shop: TestClient) -> None:
    schemes = shop.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-Admin-Token"
