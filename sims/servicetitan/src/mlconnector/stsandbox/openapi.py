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


# Where each module's API lives on api.servicetitan.io (the documents' `servers`).
MODULES = {
    "/crm/v2": "tenant-crm-v2.json",
    "/accounting/v2": "tenant-accounting-v2.json",
    "/inventory/v2": "tenant-inventory-v2.json",
    "/pricebook/v2": "tenant-pricebook-v2.json",
    "/settings/v2": "tenant-settings-v2.json",
}
_INT = re.compile(r"^-?\d+$")


@cache
def _document(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DOCUMENTS_DIR / name).read_text(encoding="utf-8"))
    return doc


def find_operation(method: str, path: str) -> tuple[str, str, dict[str, Any]] | None:
    """(document file, path template, operation) answering `method path`, or None.

    The template with the most literal segments wins (`customers/custom-fields` over
    `customers/{id}`), as ASP.NET routing chooses.
    """
    for prefix, name in MODULES.items():
        if not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) :].split("/")
        best: tuple[int, str, dict[str, Any]] | None = None
        for template, operations in _document(name)["paths"].items():
            parts = template.split("/")
            if len(parts) != len(rest):
                continue
            literal = 0
            for want, got in zip(parts, rest, strict=True):
                if want.startswith("{"):
                    continue
                if want != got:
                    break
                literal += 1
            else:
                operation = operations.get(method.lower())
                if operation is not None and (best is None or literal > best[0]):
                    best = (literal, template, operation)
        if best is not None:
            return name, best[1], best[2]
    return None


def _schema_errors(document: str, schema: dict[str, Any], instance: Any, where: str) -> list[str]:
    components = _components(DOCUMENTS_DIR / document)
    checker = Draft202012Validator({**schema, "components": components}, format_checker=_FORMATS)
    return sorted(f"{where} {e.json_path}: {e.message}" for e in checker.iter_errors(instance))


def _param_errors(operation: dict[str, Any], template: str, path: str, query: Any) -> list[str]:
    errors: list[str] = []
    params = {(p["in"], p["name"]): p for p in operation.get("parameters", [])}
    for want, got in zip(
        template.split("/"), path.split("/")[-len(template.split("/")) :], strict=True
    ):
        if want.startswith("{"):
            spec = params.get(("path", want.strip("{}")), {}).get("schema", {})
            if spec.get("type") == "integer" and not _INT.match(got):
                errors.append(f"path parameter {want} must be an integer, got {got!r}")
    for name, values in dict(query).items():
        spec = params.get(("query", name))
        if spec is None:
            errors.append(f"query parameter {name!r} is not a parameter of {template}")
            continue
        kind = spec.get("schema", {}).get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        for value in values:
            if "integer" in kinds and not _INT.match(value):
                errors.append(f"query parameter {name} must be an integer, got {value!r}")
            if "boolean" in kinds and value.lower() not in ("true", "false"):
                errors.append(f"query parameter {name} must be true or false, got {value!r}")
    for (where, name), spec in params.items():
        if where == "query" and spec.get("required") and name not in query:
            errors.append(f"required query parameter {name!r} is missing")
    return errors


def exchange_errors(
    method: str,
    path: str,
    query: Any,
    request: Any,
    status: int,
    response: Any,
    check_request: bool = True,
) -> list[str]:
    """How one API call departs from ServiceTitan's documents (empty: it follows them).

    Checks that the operation exists, its path and query parameters, the JSON request body
    against the operation's request schema, and the answer against the schema documented for
    its status (an undocumented error status must still be an ApiErrorResponse);
    `check_request` False skips the request (a test sending a bad one on purpose). Calls outside
    the API modules (the token endpoint, sandbox controls) answer [].
    """
    if not any(path.startswith(prefix + "/") for prefix in MODULES):
        return []
    found = find_operation(method, path)
    if found is None:
        return [f"{method} {path}: no such operation in ServiceTitan's documents"]
    document, template, operation = found
    label = f"{method} {template}"
    errors = [f"{label}: {e}" for e in _param_errors(operation, template, path, query)]
    body_spec = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not check_request:
        errors = []
    elif body_spec is not None:
        if request is None:
            errors.append(f"{label}: the request has no JSON body")
        else:
            errors += _schema_errors(document, body_spec["schema"], request, f"{label} request")
    elif request is not None:
        errors.append(f"{label}: the operation takes no body, got {str(request)[:80]}")
    answer = operation.get("responses", {}).get(str(status))
    if answer is None:
        if status < 400:
            return [*errors, f"{label}: status {status} is not documented"]
        answer = {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ApiErrorResponse"}}
            }
        }
    answer_spec = answer.get("content", {}).get("application/json")
    if answer_spec is None:
        if response not in (None, ""):
            errors.append(f"{label}: status {status} has no documented body, got {response!r:.80}")
    else:
        errors += _schema_errors(document, answer_spec["schema"], response, f"{label} {status}")
    return errors
