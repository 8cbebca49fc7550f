"""A runbook sent in a request body: YAML text, or JSON ``{"files": {name: text}}`` for a split runbook.

The runbook loader reads files, so the text is written to a private temporary folder and loaded from
there; every position and message is then given back under the names the caller sent
(``triage.yaml:14:5``), never the temporary path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from andon.errors import Problem, RunbookError
from andon.runbook.lint import lint
from andon.runbook.load import LoadedRunbook, load
from andon.server.errors import ApiError, problem, validation_problems

DEFAULT_NAME = "runbook.yaml"
MAX_FILES = 100
JSON_TYPES = ("application/json",)


class RunbookFiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: dict[str, str] = Field(min_length=1, max_length=MAX_FILES)


@dataclass(frozen=True, slots=True)
class Checked:
    """A loaded runbook, its lint findings and its source, all under the caller's file names."""

    loaded: LoadedRunbook
    findings: list[Problem]
    source: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def read_files(body: bytes, content_type: str, *, name: str = DEFAULT_NAME) -> dict[str, str]:
    """The files in a request body, or a 422 ApiError saying what is wrong with it."""
    if content_type.split(";")[0].strip().lower() in JSON_TYPES:
        try:
            files = RunbookFiles.model_validate(json.loads(body)).files
        except ValueError as exc:
            errors = (
                validation_problems([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
                if isinstance(exc, ValidationError)
                else [problem("json_invalid", f"the body is not JSON: {exc}", "body")]
            )
            raise ApiError(
                422, f"invalid request: {errors[0]['location']}: {errors[0]['message']}", errors=errors
            ) from None
    else:
        try:
            files = {name: body.decode("utf-8-sig")}
        except UnicodeDecodeError as exc:
            message = f"byte {exc.start} is not UTF-8; send the runbook as UTF-8 text"
            raise ApiError(
                422, f"invalid request: body: {message}", errors=[problem("unreadable", message, "body")]
            ) from None
    bad = [n for n in files if not _good_name(n)]
    if bad:
        message = "file names are plain names ending in .yaml or .yml (no folders, no leading dot)"
        errors = [problem("bad_file_name", f"{n!r}: {message}", f"body.files.{n}") for n in bad]
        raise ApiError(422, f"invalid request: {errors[0]['message']}", errors=errors)
    if not any(text.strip() for text in files.values()):
        raise ApiError(
            422,
            "invalid request: body: the runbook is empty",
            errors=[problem("missing", "the runbook is empty", "body")],
        )
    return files


def _good_name(name: str) -> bool:
    return (
        0 < len(name) <= 200
        and name.endswith((".yaml", ".yml"))
        and not name.startswith(".")
        and not any(ch in name for ch in "/\\\x00")
    )


def check(files: dict[str, str]) -> Checked:
    """Load and lint ``files``; RunbookError (under the caller's names) when they are not a runbook."""
    with tempfile.TemporaryDirectory(prefix="andon-runbook-") as folder:
        root = Path(folder)
        for file_name, text in files.items():
            (root / file_name).write_text(text, encoding="utf-8")
        target = root / next(iter(files)) if len(files) == 1 else root
        prefix = f"{root}/"
        try:
            loaded = load(target)
        except RunbookError as exc:
            raise RunbookError([_rename(p, prefix) for p in exc.problems]) from None
        findings = [_rename(p, prefix) for p in lint(loaded)]
    source = loaded.source.replace(f"# --- {prefix}", "# --- ")
    loaded.files = [f.removeprefix(prefix) for f in loaded.files]
    loaded.source = source
    return Checked(loaded=loaded, findings=findings, source=source)


def _rename(found: Problem, prefix: str) -> Problem:
    return dataclasses.replace(
        found, file=found.file.removeprefix(prefix), message=found.message.replace(prefix, "")
    )
