"""The simulator's error answer: an HTTP status plus Binance's {"code", "msg"} body (and headers
such as Retry-After). Raised anywhere below the HTTP layer, rendered once by the server."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}
