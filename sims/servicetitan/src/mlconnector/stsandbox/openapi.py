"""Validate JSON against a schema of a ServiceTitan OpenAPI document (tests use this).

The documents ship with this package (`DOCUMENTS_DIR`, byte for byte as ServiceTitan
publishes them; `documents/README.txt` says where each comes from and lists its sha256).

The 2026 documents are OpenAPI 3.1 (plain JSON Schema 2020-12); the 2025-12 ones are 3.0,
whose `nullable: true` is not JSON Schema, so it is rewritten to a union with null.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

# jsonschema ships no type information and its stubs are not a project dependency.
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

DOCUMENTS_DIR = Path(__file__).resolve().parent / "documents"

# RFC 3339 date-time; jsonschema checks it only if an optional package is installed.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


_FORMATS = FormatChecker()
_FORMATS.checks("date-time")(_is_date_time)


def _null_aware(node: Any) -> Any:
    if isinstance(node, list):
        return [_null_aware(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _null_aware(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list):
            out["type"] = [*kind, "null"] if "null" not in kind else kind
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _components(document: Path) -> dict[str, Any]:
    doc = json.loads(document.read_text(encoding="utf-8"))
    components: dict[str, Any] = doc["components"]
    if str(doc.get("openapi", "")).startswith("3.0"):
        components = _null_aware(components)
    return components


def validator(document: Path, schema_name: str) -> Any:
    components = _components(document)
    if schema_name not in components["schemas"]:
        raise KeyError(f"{document.name} has no schema {schema_name!r}")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    return Draft202012Validator(schema, format_checker=_FORMATS)


def schema_errors(document: Path, schema_name: str, instance: Any) -> list[str]:
    """Every violation, each as "<json path>: <message>"; empty when the instance is valid."""
    errors = validator(document, schema_name).iter_errors(instance)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)
