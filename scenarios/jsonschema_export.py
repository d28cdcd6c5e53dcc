"""The scenario format as JSON Schema, for editors (``# yaml-language-server: $schema=...``).

``scenario.schema.json`` beside this module is generated from ``Scenario`` and committed; a
test fails when it is stale. Regenerate it with ``python -m scenarios.jsonschema_export``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.schema import Scenario

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    return {"$schema": DIALECT, **Scenario.model_json_schema()}


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(render_json_schema(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_json_schema()}")
