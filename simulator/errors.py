"""Errors that travel to the client in OpenAI's error shape."""

from __future__ import annotations

from typing import Any


class SimctlError(Exception):
    """Base of every error simctl raises on purpose."""


class ConfigError(SimctlError):
    """A scenario, cassette or flag is wrong; the message names where."""


class APIError(SimctlError):
    """An error answer: status plus OpenAI's `{"error": {message, type, param, code}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def __repr__(self) -> str:
        return f"APIError({self.status}, {self.message!r}, code={self.code!r})"


def invalid(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def not_found(message: str, param: str | None = None) -> APIError:
    return APIError(404, message, param=param)


def mask_key(key: str) -> str:
    """OpenAI shows the first and last four characters of a wrong key, never the key itself."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:8]}{'*' * min(len(key) - 12, 30)}{key[-4:]}" if len(key) > 12 else f"{key[:2]}***{key[-2:]}"


class StoreUnavailable(SimctlError):
    """The shared store cannot be reached; the request gets an OpenAI-shaped 503 and may be retried."""
