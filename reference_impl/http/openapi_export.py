"""Write the served OpenAPI document to its committed copies.

``python -m reference_impl.http.openapi_export`` regenerates both files; a test fails when
either differs from what the app serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from reference_impl.http.app import create_app
from reference_impl.service.memory import InMemoryUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
#: The reference implementation's copy, and the one shipped with the conformance suite.
COPIES = (ROOT / "reference_impl" / "http" / "openapi.json", ROOT / "conformance" / "openapi.json")


def document() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(
        uow_factory=InMemoryUnitOfWork, run_workers=False
    ).openapi()
    return spec


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    text = render()
    for path in COPIES:
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
