"""Read one runbook file into plain data plus the line:column of every key and value.

PyYAML's composer keeps a start mark on every node; we build the plain data ourselves from the nodes
so that each value's position survives, and so that duplicate keys (which PyYAML silently lets the
last one win) become errors naming both places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from andon.errors import Problem

try:  # the C composer is ~10x faster on big files; the pure-Python one gives identical marks
    from yaml import CSafeLoader as _FastLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _FastLoader  # type: ignore[assignment]

MAX_BYTES = 5 * 1024 * 1024
# Aliases can make a small file expand enormously ("billion laughs"); a runbook never needs this many.
MAX_NODES = 200_000
MAX_DEPTH = 64

FieldPath = tuple[str | int, ...]

# Codes of problems found while loading (documented in docs/lint-findings.md).
UNREADABLE = "AND001"
SYNTAX = "AND002"
DUPLICATE = "AND003"
UNKNOWN_KEY = "AND004"
MISSING = "AND005"
INVALID = "AND006"
UNKNOWN_REFERENCE = "AND007"


@dataclass(frozen=True, slots=True)
class Position:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class ParsedFile:
    """One file's plain data and where each piece of it was written."""

    file: str
    text: str
    data: Any
    values: dict[FieldPath, Position] = field(default_factory=dict)
    keys: dict[FieldPath, Position] = field(default_factory=dict)


def problem(where: Position, code: str, message: str, path: str = "") -> Problem:
    return Problem(
        file=where.file,
        line=where.line,
        column=where.column,
        path=path,
        severity="error",
        code=code,
        message=message,
    )


def read_text(path: Path) -> str:
    """The file's text, or RunbookError explaining in plain words why it cannot be a runbook."""
    from andon.errors import RunbookError

    name = str(path)
    start = Position(name, 1, 1)
    if not path.exists():
        raise RunbookError([problem(start, UNREADABLE, "no such file or folder")])
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise RunbookError(
            [
                problem(
                    start,
                    UNREADABLE,
                    f"file is {size / 1024 / 1024:.1f} MB; a runbook may be at most "
                    f"{MAX_BYTES // 1024 // 1024} MB. Is this the right file?",
                )
            ]
        )
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise RunbookError(
            [
                problem(
                    start, UNREADABLE, "this is a binary file, not YAML text; point Andon at the .yaml file"
                )
            ]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RunbookError(
            [
                problem(
                    Position(name, line, column),
                    UNREADABLE,
                    f"byte 0x{raw[exc.start]:02x} is not UTF-8; save the file as UTF-8",
                )
            ]
        ) from None
    return text


def _may_nest_deeply(text: str) -> bool:
    """A cheap upper bound on nesting: indentation plus brackets and dashes, with open flow brackets."""
    flow = 0
    for line in text.splitlines():
        flow += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        indicators = line.count("[") + line.count("{") + line.count("- ")
        if flow + indicators + (len(line) - len(line.lstrip())) > 200:
            return True
    return False


def _hint(problem_text: str) -> str:
    indentation = (
        "mapping values are not allowed",
        "expected <block end>",
        "did not find expected key",
        "did not find expected '-' indicator",
    )
    if any(text in problem_text for text in indentation):
        return "; check the indentation of this line against the lines above it"
    if "could not find expected ':'" in problem_text:
        return "; a key needs a colon after it ('key: value')"
    return ""


def parse(path: Path) -> ParsedFile:
    """Parse one file; RunbookError for unreadable files, YAML syntax errors and duplicate keys."""
    from andon.errors import RunbookError

    name = str(path)
    text = read_text(path)
    # libyaml's composer recurses in C and crashes the process on absurd nesting ("[[[[…"); such
    # input goes to the pure-Python composer, whose RecursionError we can report.
    loader = yaml.SafeLoader if _may_nest_deeply(text) else _FastLoader
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name, 1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        line_text = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
        if "\t" in line_text[: mark.column + 1 if mark else 0]:
            what += "; YAML does not allow tabs for indentation, use spaces"
        if "expected a single document" in str(exc):
            what = "the file holds more than one YAML document ('---'); keep one runbook document per file"
        raise RunbookError([problem(where, SYNTAX, f"YAML syntax error: {what}{_hint(what)}")]) from None
    except yaml.YAMLError as exc:
        raise RunbookError([problem(Position(name, 1, 1), SYNTAX, f"YAML error: {exc}")]) from None
    except RecursionError:
        raise RunbookError(
            [problem(Position(name, 1, 1), UNREADABLE, "the document nests far deeper than a runbook needs")]
        ) from None
    if root is None:
        raise RunbookError(
            [problem(Position(name, 1, 1), UNREADABLE, "file is empty; a runbook starts with 'andon: 1'")]
        )
    parsed = ParsedFile(file=name, text=text, data=None)
    builder = _Builder(parsed)
    parsed.data = builder.build(root, ())
    if builder.problems:
        raise RunbookError(builder.problems)
    return parsed


class _Builder:
    def __init__(self, parsed: ParsedFile) -> None:
        self.parsed = parsed
        self.problems: list[Problem] = []
        self.count = 0
        self.constructor = SafeConstructor()

    def pos(self, node: Node) -> Position:
        return Position(self.parsed.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Node, path: FieldPath) -> Any:
        from andon.errors import RunbookError

        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise RunbookError(
                [
                    problem(
                        self.pos(node),
                        UNREADABLE,
                        "the document nests or repeats (through aliases) far more than a runbook needs",
                    )
                ]
            )
        self.parsed.values[path] = self.pos(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.constructor.ConstructorError as exc:
                self.problems.append(problem(self.pos(node), INVALID, f"cannot read value: {exc.problem}"))
            except ValueError as exc:  # e.g. a date-shaped value that is no date: 2026-13-45
                self.problems.append(problem(self.pos(node), INVALID, f"cannot read '{node.value}': {exc}"))
            return None
        return None  # pragma: no cover - composer yields only the three node kinds

    def _mapping(self, node: MappingNode, path: FieldPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            where = self.pos(key_node)
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    problem(where, INVALID, "a key must be a plain word, not a list or mapping")
                )
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(
                    problem(where, INVALID, "merge keys ('<<') are not supported; write the keys out")
                )
                continue
            key = self.constructor.construct_object(key_node)
            # A bare `1:` or `yes:` key means a string to the author, never an int or a bool.
            key = key_node.value if not isinstance(key, str) else key
            if key in first_seen:
                self.problems.append(
                    problem(
                        where,
                        DUPLICATE,
                        f"duplicate key '{key}'; it is already set at line {first_seen[key].line}, "
                        f"column {first_seen[key].column}. Keep one",
                    )
                )
                continue
            first_seen[key] = where
            self.parsed.keys[(*path, key)] = where
            result[key] = self.build(value_node, (*path, key))
        return result
