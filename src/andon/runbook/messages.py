"""Turn pydantic's validation errors into sentences a runbook author can act on."""

from __future__ import annotations

import difflib
import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from andon.runbook.schema import Runbook
from andon.runbook.yamlnodes import INVALID, MISSING, UNKNOWN_KEY

FieldPath = tuple[str | int, ...]

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (lines starting with '- ', or [a, b])",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "date_type": "a date like 2026-10-01",
    "date_parsing": "a date like 2026-10-01",
    "date_from_datetime_parsing": "a date like 2026-10-01",
    "date_from_datetime_inexact": "a date like 2026-10-01 (no time of day)",
}
_OWNER_HINTS = {
    "business": "the person who decides customer and workflow impact",
    "technical": "the person who handles logs, rollback, fixes and monitoring",
}


def suggest(word: str, choices: list[str]) -> str | None:
    """The closest valid word to a typo, if one is close enough to be a likely intent."""
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _yaml_kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"'{str(value).lower()}' (true/false)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    text = str(value)
    return f"'{text[:60]}…'" if len(text) > 60 else f"'{text}'"


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated; keep list/dict origins."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            annotation = args[0]
            continue
        if hasattr(annotation, "__metadata__"):  # Annotated[...]
            annotation = get_args(annotation)[0]
            continue
        return annotation


def model_at(loc: FieldPath) -> type[BaseModel] | None:
    """The schema model that describes the mapping at ``loc`` (None if loc is not a model)."""
    current: Any = Runbook
    i = 0
    while i < len(loc):
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = _field_by_key(current, str(loc[i]))
        if field is None:
            return None
        annotation = _unwrap(field)
        i += 1
        origin = get_origin(annotation)
        if origin is list and i < len(loc) and isinstance(loc[i], int):
            annotation = _unwrap(get_args(annotation)[0])
            i += 1
        elif origin is dict and i < len(loc):
            annotation = _unwrap(get_args(annotation)[1])
            i += 1
        current = annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def valid_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def explain(error: ErrorDetails) -> tuple[str, str]:
    """(code, message) for one pydantic error, naming the valid choices where there are few."""
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    names = [str(part) for part in loc if isinstance(part, str) and part != "[key]"]
    last = names[-1] if names else "runbook"
    # "valid effect" for a field, "valid entry for kill_switch" for an item of a list
    what = f"entry for {last}" if loc and isinstance(loc[-1], int) else last
    if kind == "extra_forbidden":
        parent = model_at(loc[:-1])
        keys = valid_keys(parent) if parent else []
        close = suggest(last, keys)
        if close:
            return UNKNOWN_KEY, f"unknown key '{last}'; did you mean '{close}'?"
        return UNKNOWN_KEY, f"unknown key '{last}'; valid keys here: {', '.join(keys)}"
    if kind == "missing":
        if len(loc) >= 2 and loc[-2] == "owners" and last in _OWNER_HINTS:
            return MISSING, (f"missing owner: add '{last}: <contact id>' under owners ({_OWNER_HINTS[last]})")
        return MISSING, f"missing required key '{last}'"
    if kind == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",") if c.strip()]
        close = suggest(str(value), choices) if isinstance(value, str) else None
        hint = f"; did you mean '{close}'?" if close else ""
        if last == "andon":
            return INVALID, f"format version {_yaml_kind(value)} is not supported; write 'andon: 1'"
        return INVALID, f"{_yaml_kind(value)} is not a valid {what}{hint} (valid: {', '.join(choices)})"
    if kind in _TYPE_WORDS:
        return INVALID, f"'{last}' should be {_TYPE_WORDS[kind]}, not {_yaml_kind(value)}"
    if kind == "string_pattern_mismatch":
        return INVALID, (
            f"{_yaml_kind(value)} cannot be an id; ids use letters, digits, '-', '_' and '.', no spaces"
        )
    bounds = {"less_than_equal": "at most", "less_than": "below", "greater_than_equal": "at least"}
    bounds["greater_than"] = "above"
    if kind in bounds:
        limit = next(iter(error.get("ctx", {}).values()), "")
        return INVALID, f"'{last}' must be {bounds[kind]} {limit}, not {_yaml_kind(value)}"
    if kind in ("too_short", "string_too_short"):
        return INVALID, f"'{last}' must not be empty"
    if kind == "value_error":
        message = error["msg"].removeprefix("Value error, ")
        return INVALID, message
    return INVALID, f"'{last}': {error['msg']}"
