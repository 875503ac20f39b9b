"""Turning refusals and errors into responses: JSON for the API, pages for people.

Anonymous visitors of a page are sent to the login (and back afterwards); API callers get 401
with `WWW-Authenticate: Bearer`. A use case's refusal (`TicketActionError`, `AccountError`,
`AdminActionError`) is a 400 with its message, an unknown thing a 404, a conflict with the
current state (a duplicate, the last admin, a missing parent category) a 409.
Messages shown are those written for people; internals never reach the client.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from deskmail.accounts import AccountError, LastAdminError, UnknownUserError, UserExistsError
from deskmail.admin_actions import AdminActionError, CategoryConflictError
from deskmail.ticket_actions import AssigneeNotFoundError, TicketActionError, TicketNotFoundError
from deskmail.web.auth import AuthError, LoginRequiredError, is_api
from deskmail.web.rendering import render

_TITLES = {
    400: "Not possible",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Exists already",
    413: "Too large",
    422: "Not understood",
    429: "Too many requests",
}


def error_response(request: Request, status_code: int, message: str) -> Response:
    """The error as JSON (API) or as a page."""
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status_code)
    return render(
        request,
        "error.html",
        {
            "title": _TITLES.get(status_code, "Error"),
            "status_code": status_code,
            "message": message,
        },
        status_code=status_code,
    )


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    if isinstance(exc, LoginRequiredError):
        if is_api(request):
            return JSONResponse(
                {"detail": "authentication required"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="deskmail"'},
            )
        target = "/login"
        if request.method == "GET":
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target += "?next=" + quote(path, safe="")
        return RedirectResponse(target, status_code=303)
    return error_response(request, exc.status_code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    response = error_response(request, exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if is_api(request):
        return await request_validation_exception_handler(request, exc)
    return error_response(request, 400, "The request had values this page does not accept.")


def _use_case_error(status_code: int) -> object:
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(request, status_code, str(exc))

    return handler


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app (the most specific error classes first)."""
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error, status_code in (
        (TicketNotFoundError, 404),
        (AssigneeNotFoundError, 404),
        (UnknownUserError, 404),
        (UserExistsError, 409),
        (LastAdminError, 409),
        (CategoryConflictError, 409),
        (TicketActionError, 400),
        (AccountError, 400),
        (AdminActionError, 400),
    ):
        app.add_exception_handler(error, _use_case_error(status_code))  # type: ignore[arg-type]
