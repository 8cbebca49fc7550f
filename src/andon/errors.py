"""Every exception Andon raises on purpose.

The tree::

    AndonError                      anything Andon raises on purpose
    ├── ConfigError                 settings, environment variables, missing extras
    │   └── MissingExtra            an optional dependency is not installed
    ├── RunbookError                a runbook could not be used (carries positioned problems)
    ├── StoreError                  the store could not be opened, migrated or reached
    ├── LedgerError                 the ledger refused an append or a checkpoint
    │   └── TamperDetected          verification found an edited, missing or reordered leaf
    ├── EvidenceError               an evidence bundle is malformed or does not verify
    └── ControlError                the control plane refused an action
        ├── Denied                  decide() said deny (reason, rule, fallback)
        └── ApprovalPending         decide() said hold (approval id)

Messages say what happened, where, and what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class AndonError(Exception):
    """Base of every error Andon raises on purpose."""


class ConfigError(AndonError):
    """A setting, environment variable or installation problem."""


class MissingExtra(ConfigError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, *, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{module}' package, which is not installed; "
            f"run: pip install 'andon[{extra}]'"
        )
        self.module = module
        self.extra = extra


@dataclass(frozen=True, slots=True)
class Problem:
    """One positioned problem in an input file: where, how bad, which rule, what to do."""

    file: str
    line: int
    column: int
    path: str
    severity: str  # "error" | "warning"
    code: str
    message: str

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def render(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"{self.location()}: {self.severity} {self.code} {self.message}{where}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


class RunbookError(AndonError):
    """A runbook could not be loaded; ``problems`` lists every positioned reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0].render() if problems else "runbook could not be loaded"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class StoreError(AndonError):
    """The store could not be opened, migrated or reached."""


class LedgerError(AndonError):
    """The ledger refused an append or a checkpoint."""


class TamperDetected(LedgerError):
    """Verification found the ledger altered; ``index`` is the first bad leaf."""

    def __init__(self, message: str, *, index: int | None, kind: str) -> None:
        super().__init__(message)
        self.index = index
        self.kind = kind


class EvidenceError(AndonError):
    """An evidence bundle is malformed or does not verify."""


class ControlError(AndonError):
    """The control plane refused an action."""


class Denied(ControlError):
    """decide() denied the action; ``fallback`` says where the work goes instead."""

    def __init__(self, reason: str, *, rule: str, fallback: str | None = None) -> None:
        super().__init__(reason if fallback is None else f"{reason}; work goes to {fallback}")
        self.reason = reason
        self.rule = rule
        self.fallback = fallback


class ApprovalPending(ControlError):
    """decide() held the action for a person; resume later with ``approval_id``."""

    def __init__(self, approval_id: str, *, rule: str, reason: str) -> None:
        super().__init__(f"held for approval {approval_id}: {reason}")
        self.approval_id = approval_id
        self.rule = rule
        self.reason = reason
