"""One JSON error body everywhere: ``{"ok": false, "error": "...", "errors": [...], "status": 4xx}``.

``error`` is one sentence for a person; ``errors`` lists every problem as
``{"code": ..., "message": ..., "location": ...}`` (``location`` is a dotted request path such as
``body.workflows.0`` for validation problems, else null). Routers raise :class:`ApiError`; every
other failure — validation, unknown routes, wrong methods, oversized bodies, crashes — is turned into
the same body by the handlers installed with :func:`install_error_handlers`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from andon.errors import AndonError, ConfigError, RunbookError, StoreError

log = logging.getLogger("andon.server")


class ApiError(Exception):
    """An error a route answers with; ``errors`` defaults to one entry repeating ``message``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _code(status)
        self.errors = list(errors) if errors is not None else None
        self.headers = headers


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def problem(code: str, message: str, location: str | None = None) -> dict[str, Any]:
    """One entry of ``errors``."""
    return {"code": code, "message": message, "location": location}


def error_body(status: int, message: str, errors: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one error body; ``errors`` defaults to a single entry for ``message``."""
    items = list(errors) if errors else [problem(_code(status), message)]
    return {"ok": False, "error": message, "errors": items, "status": status}


def error_response(
    status: int,
    message: str,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, errors), status_code=status, headers=headers)


def validation_problems(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI/pydantic validation errors as ``errors`` entries with a dotted location."""
    out = []
    for item in raw:
        location = ".".join(str(part) for part in item.get("loc", ()))
        out.append(problem(str(item.get("type", "invalid")), str(item.get("msg", "invalid value")), location))
    return out


def _wants_login_redirect(request: Request, status: int) -> bool:
    # A browser opening a console page without a session is sent to the login form, not shown JSON.
    return status == 401 and request.method == "GET" and request.url.path.startswith("/console")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if _wants_login_redirect(request, exc.status):
        return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)
    errors = exc.errors if exc.errors is not None else [problem(exc.code, exc.message)]
    return error_response(exc.status, exc.message, errors, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    return error_response(status, message, headers=dict(exc.headers) if exc.headers else None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc.errors())
    first = problems[0] if problems else problem("invalid", "the request is not valid")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    message = f"invalid request: {first['location']}: {first['message']}{more}"
    return error_response(422, message, problems)


async def _andon_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AndonError)
    if isinstance(exc, RunbookError):
        errors = [problem(p.code, p.message, p.location()) for p in exc.problems]
        return error_response(422, str(exc), errors)
    if isinstance(exc, StoreError):
        log.error("store error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "the store is unavailable; try again shortly")
    status = 400 if isinstance(exc, ConfigError) else 409
    return error_response(status, str(exc))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server log; the caller learns only that it was our fault.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(AndonError, _andon_error)
    app.add_exception_handler(Exception, _unexpected)
