"""Andon: the incident-response runbook for AI workflows, made executable.

The public surface is what ``__all__`` lists. Importing ``andon`` loads neither the server
nor the database layer; heavier parts load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from andon.errors import AndonError, ApprovalPending, Denied

__version__ = "0.1.0"

__all__ = ["Andon", "AndonError", "ApprovalPending", "Denied", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from andon.sdk.client import Andon


def __getattr__(name: str) -> Any:
    if name == "Andon":  # loads the SDK (and, in local mode, the store) only when asked for
        from andon.sdk.client import Andon

        return Andon
    raise AttributeError(f"module 'andon' has no attribute {name!r}")
