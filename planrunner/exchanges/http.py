"""HTTP transport seam: the Transport protocol the exchange clients send bytes through, and the
requests-based transport (the only module that imports requests).

A transport sends exactly the URL and body bytes it is given, never re-encodes them, and turns
network failures into planrunner errors that say whether the request may have reached the venue.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import requests
import urllib3.exceptions

from planrunner.errors import OutcomeUnknown, TransientError


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Transport(Protocol):
    def send(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> HttpResponse: ...


# Failures where the request bytes cannot have left this machine.
_NOT_SENT = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.NameResolutionError,
             urllib3.exceptions.ConnectTimeoutError)


def _never_sent(exc: BaseException) -> bool:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (*_NOT_SENT, requests.exceptions.ConnectTimeout)):
            return True
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        todo.extend(a for a in item.args if isinstance(a, BaseException))
    return False


def _host(url: str) -> str:
    return url.split("/", 3)[2] if url.count("/") >= 2 else url


_SIGNATURE = re.compile(r"(signature=)[^&\s\"']+")


class RedactSignatures(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string included: hide signature values,
    so turning on debug logging never writes a request signature anywhere."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "signature=" in message:
            record.msg, record.args = _SIGNATURE.sub(r"\1<redacted>", message), ()
        return True


def _redact_urllib3_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactSignatures) for f in logger.filters):
        logger.addFilter(RedactSignatures())


class RequestsTransport:
    """Transport over a requests.Session. Redirects are not followed (an API never redirects)."""

    def __init__(self, session: requests.Session | None = None):
        self._session = session or requests.Session()
        _redact_urllib3_logs()

    def send(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> HttpResponse:
        try:
            response = self._session.request(method, url, headers=dict(headers), data=body,
                                             timeout=timeout, allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise self._translate(exc, method, url) from None
        return HttpResponse(response.status_code, dict(response.headers), response.content)

    @staticmethod
    def _translate(exc: requests.exceptions.RequestException, method: str, url: str) -> Exception:
        where = f"{method} {_host(url)}"
        if _never_sent(exc):
            return TransientError(f"could not connect to {where} ({type(exc).__name__}); nothing was "
                                  "sent. Check the network or the base URL and try again.")
        if isinstance(exc, requests.exceptions.Timeout):
            return OutcomeUnknown(f"{where} timed out after the request was sent; it may have been "
                                  "executed. Look the order up by its client id before retrying.")
        return OutcomeUnknown(f"the connection to {where} failed after the request was sent "
                              f"({type(exc).__name__}); it may have been executed. Look the order "
                              "up by its client id before retrying.")
