"""Load a runbook from one YAML file or a folder of them, with every problem positioned.

A folder is one runbook split over files (say ``org.yaml`` and one file per workflow): list sections
are concatenated, ``organisation`` and ``redaction`` may appear in one file only, and an id declared
twice is an error naming both places. A folder in which every file declares its own ``organisation``
is a collection of separate runbooks (like ``examples/``); :func:`load_all` returns each of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from andon.errors import Problem, RunbookError
from andon.runbook.messages import explain
from andon.runbook.refs import KEY, check_references
from andon.runbook.schema import Runbook
from andon.runbook.yamlnodes import (
    DUPLICATE,
    INVALID,
    UNKNOWN_KEY,
    UNKNOWN_REFERENCE,
    UNREADABLE,
    FieldPath,
    ParsedFile,
    Position,
    parse,
    problem,
)

LIST_SECTIONS = ("severities", "incident_classes", "regimes", "workflows")
SINGLE_SECTIONS = ("andon", "organisation", "redaction")
# Within one list, what names an item; also how field paths show items: workflows[support-triage].
_ITEM_KEYS = ("id", "name", "regime")
_NESTED_UNIQUE = {"tools": "name", "credentials": "id", "prompts": "id", "retrieval_sources": "id"}


@dataclass
class SourceMap:
    """The merged plain data of a runbook and where each key and value was written."""

    files: list[str]
    data: dict[str, Any]
    values: dict[FieldPath, Position]
    keys: dict[FieldPath, Position]

    def locate(self, path: FieldPath, *, key: bool = False) -> Position:
        """Where ``path`` was written (its key when ``key``), or the nearest enclosing place."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        for end in range(len(path) - 1, -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return Position(self.files[0], 1, 1)

    def label(self, path: FieldPath) -> str:
        return field_label(self.data, path)


@dataclass
class LoadedRunbook(SourceMap):
    """A valid runbook plus where each of its parts was written."""

    runbook: Runbook
    source: str  # the files' text, concatenated with a header line per file

    @property
    def digest(self) -> str:
        """SHA-256 of the source text: the same files give the same digest."""
        return hashlib.sha256(self.source.encode()).hexdigest()


def field_label(data: Any, path: FieldPath) -> str:
    """Field path for people: ``workflows[support-triage].tools[crm.update].effect``."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            name = next(
                (item[k] for k in _ITEM_KEYS if isinstance(item, dict) and isinstance(item.get(k), str)),
                None,
            )
            out += f"[{name if name is not None else part}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def yaml_files(folder: Path) -> list[Path]:
    """The *.yaml and *.yml files under a folder, sorted, skipping hidden files and folders."""
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def load_runbook(path: str | Path) -> Runbook:
    """The runbook at ``path`` (a file or a folder), or RunbookError with positioned problems."""
    return load(path).runbook


def load(path: str | Path) -> LoadedRunbook:
    """Like :func:`load_runbook`, keeping positions (for lint) and the source (for revisions)."""
    loaded = load_all(path)
    if len(loaded) > 1:
        raise RunbookError(
            [
                problem(
                    Position(str(path), 1, 1),
                    UNREADABLE,
                    f"this folder holds {len(loaded)} separate runbooks (each file declares its own "
                    "organisation); name one file",
                )
            ]
        )
    return loaded[0]


def load_all(path: str | Path) -> list[LoadedRunbook]:
    """Every runbook at ``path``: one for a file or a split folder, several for a collection folder."""
    root = Path(path)
    if root.is_dir():
        files = yaml_files(root)
        if not files:
            raise RunbookError(
                [problem(Position(str(root), 1, 1), UNREADABLE, "no .yaml or .yml files in this folder")]
            )
    else:
        files = [root]
    parsed: list[ParsedFile] = []
    problems: list[Problem] = []
    for file in files:
        try:
            parsed.append(parse(file))
        except RunbookError as exc:
            problems.extend(exc.problems)
    for item in parsed:
        if not isinstance(item.data, dict):
            problems.append(
                problem(
                    item.values[()],
                    INVALID,
                    "the top of a runbook file must be a mapping (andon: 1, organisation: …), "
                    "not a list or a single value",
                )
            )
    if problems:
        raise RunbookError(problems)
    # Complete runbooks side by side (each with its own version line and organisation) are separate.
    complete = [p for p in parsed if "andon" in p.data and "organisation" in p.data]
    groups = [[p] for p in parsed] if len(parsed) > 1 and len(complete) == len(parsed) else [parsed]
    results: list[LoadedRunbook] = []
    for group in groups:
        try:
            results.append(_assemble(group))
        except RunbookError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RunbookError(problems)
    return results


def _assemble(files: list[ParsedFile]) -> LoadedRunbook:
    data, values, keys, problems = _merge(files)
    loaded = SourceMap(files=[f.file for f in files], data=data, values=values, keys=keys)
    problems.extend(_duplicate_ids(loaded))
    if problems:
        raise RunbookError(problems)
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            code, message = explain(error)
            loc = tuple(error["loc"])
            # pydantic marks a bad mapping key as ("…", "Ops Lead", "[key]"): point at the key itself.
            bad_key = bool(loc) and loc[-1] == "[key]"
            loc = loc[:-1] if bad_key else loc
            where = loaded.locate(loc, key=code == UNKNOWN_KEY or bad_key)
            problems.append(problem(where, code, message, loaded.label(loc)))
        raise RunbookError(_sorted(problems)) from None
    for loc, message in check_references(runbook):
        at_key = bool(loc) and loc[-1] == KEY
        loc = loc[:-1] if at_key else loc
        where = loaded.locate(loc, key=at_key)
        problems.append(problem(where, UNKNOWN_REFERENCE, message, loaded.label(loc)))
    if problems:
        raise RunbookError(_sorted(problems))
    source = "".join(f"# --- {f.file}\n{f.text}" if len(files) > 1 else f.text for f in files)
    return LoadedRunbook(**vars(loaded), runbook=runbook, source=source)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.column))


def _merge(
    files: list[ParsedFile],
) -> tuple[dict[str, Any], dict[FieldPath, Position], dict[FieldPath, Position], list[Problem]]:
    data: dict[str, Any] = {}
    values: dict[FieldPath, Position] = {}
    keys: dict[FieldPath, Position] = {}
    problems: list[Problem] = []
    if files:
        values[()] = files[0].values[()]
    for parsed in files:
        offsets: dict[str, int] = {}
        for key, value in parsed.data.items():
            here = parsed.keys[(key,)]
            if key in LIST_SECTIONS and isinstance(value, list) and isinstance(data.get(key, []), list):
                offsets[key] = len(data.get(key, []))
                data.setdefault(key, []).extend(value)
            elif key in data:
                if key == "andon" and data[key] == value:
                    continue
                first = keys[(key,)]
                problems.append(
                    problem(
                        here,
                        DUPLICATE,
                        f"'{key}' is already declared at {first}; a runbook declares it in one file only",
                    )
                )
                continue
            else:
                data[key] = value
            keys.setdefault((key,), here)
        for table, target in ((parsed.values, values), (parsed.keys, keys)):
            for path, position in table.items():
                if not path:
                    continue
                if len(path) >= 2 and isinstance(path[1], int) and path[0] in offsets:
                    path = (path[0], path[1] + offsets[path[0]], *path[2:])
                target.setdefault(path, position)
    return data, values, keys, problems


def _duplicate_ids(loaded: SourceMap) -> list[Problem]:
    """Ids declared twice, in one file or across files; both places are named."""
    found: list[Problem] = []

    def check(items: Any, base: FieldPath, key: str, what: str) -> None:
        if not isinstance(items, list):
            return
        seen: dict[Any, Position] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get(key), str | int):
                continue
            where = loaded.locate((*base, i, key))
            if item[key] in seen:
                found.append(
                    problem(
                        where,
                        DUPLICATE,
                        f"duplicate {what} '{item[key]}'; first declared at {seen[item[key]]}",
                        loaded.label((*base, i, key)),
                    )
                )
            else:
                seen[item[key]] = where

    data = loaded.data
    for section, what in (
        ("severities", "severity"),
        ("incident_classes", "incident class"),
        ("workflows", "workflow"),
    ):
        check(data.get(section), (section,), "id", f"{what} id")
    check(data.get("regimes"), ("regimes",), "regime", "regime")
    redaction = data.get("redaction")
    if isinstance(redaction, dict):
        check(redaction.get("patterns"), ("redaction", "patterns"), "name", "redaction pattern")
    for w, workflow in enumerate(data.get("workflows") or []):
        if isinstance(workflow, dict):
            for field, key in _NESTED_UNIQUE.items():
                what = {"tools": "tool", "credentials": "credential", "prompts": "prompt"}.get(
                    field, "retrieval source"
                )
                check(workflow.get(field), ("workflows", w, field), key, what)
    return found
