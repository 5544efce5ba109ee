"""OpenAI-shaped errors: every failure of the API answers `{"error": {"message", "type", "param", "code"}}` with the
matching HTTP status, whether it is a bad request, a library SelfcloneError or a bug.

    raise APIError(400, "n must be <= 128", param="n")
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ...errors import ConfigError, DataError, ModelNotFound, SelfcloneError

TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
         409: "invalid_request_error", 500: "server_error"}


class APIError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type or TYPES.get(status, "invalid_request_error")


def error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(exc: APIError) -> JSONResponse:
    return JSONResponse(error_body(exc.message, exc.type, exc.param, exc.code), status_code=exc.status)


def from_library(exc: SelfcloneError, param: str | None = None) -> APIError:
    """A library error as the API reports it: the message plus its hint, and the status that fits."""
    text = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    if isinstance(exc, ModelNotFound):
        return APIError(404, text, param=param or "model", code="model_not_found")
    if isinstance(exc, (ConfigError, DataError)):
        return APIError(400, text, param=param or getattr(exc, "field", None))
    return APIError(400, text, param=param)


def install(app: FastAPI) -> None:
    """Answer every error of `app` in OpenAI's shape."""

    @app.exception_handler(APIError)
    async def _api(_: Request, exc: APIError):
        return error_response(exc)

    @app.exception_handler(SelfcloneError)
    async def _library(_: Request, exc: SelfcloneError):
        return error_response(from_library(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        return error_response(APIError(400, f"{param or 'request'}: {first.get('msg', 'invalid request')}",
                                       param=param))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException):
        code = "not_found" if exc.status_code == 404 else None
        return error_response(APIError(exc.status_code, str(exc.detail), code=code))

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception):
        return error_response(APIError(500, f"internal error: {type(exc).__name__}: {exc}"))
