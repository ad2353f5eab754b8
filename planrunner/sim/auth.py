"""Binance's security checks for SIGNED endpoints: the API key header, the timestamp/recvWindow
window (§2.5) and the signature over the exact received query string + body (§2.2): HMAC-SHA256
hex for an HMAC key, base64 Ed25519 (percent-decoded from the request) for an Ed25519 key.

Each failure is an ApiError with Binance's code, message and HTTP status. Secrets never appear in
an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from planrunner.sim.errors import ApiError

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = Decimal(5000)
_MICROSECONDS = 10**15
_SIGNATURE_RE = re.compile(r"(^|&)signature=[^&]*")


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one API key the simulator accepts: an HMAC key (`api_secret`) or, when `ed25519` is
    set, an Ed25519 key (no secret; signatures are checked against the public key)."""

    api_key: str
    api_secret: str | None
    generated: bool = False
    ed25519: Ed25519PublicKey | None = None

    @classmethod
    def generate(cls) -> Credentials:
        return cls(secrets.token_hex(32), secrets.token_hex(32), generated=True)

    @classmethod
    def for_ed25519(cls, public_key: Ed25519PublicKey, api_key: str | None = None) -> Credentials:
        """An Ed25519 key; the API key itself is generated when not given."""
        if api_key is None:
            return cls(secrets.token_hex(32), None, generated=True, ed25519=public_key)
        return cls(api_key, None, ed25519=public_key)

    def __repr__(self) -> str:
        kind = "ed25519" if self.ed25519 is not None else "hmac"
        return f"Credentials(api_key={self.api_key[:6]}..., {kind}, api_secret=<redacted>)"


def load_ed25519_public_key(path: str | Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (SubjectPublicKeyInfo, `-----BEGIN PUBLIC KEY-----`,
    what Binance asks you to upload). Raises ValueError with a one-line reason."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(f"{path} is not a PEM public key (-----BEGIN PUBLIC KEY-----); give the "
                         "public half, e.g. from `openssl pkey -in private.pem -pubout`") from None
    if not isinstance(key, Ed25519PublicKey):
        kind = type(key).__name__.removeprefix("_")
        raise ValueError(f"{path} holds a {kind}, not an Ed25519 public key")  # noqa: TRY004
    return key


def check_api_key(headers: Mapping[str, str], creds: Credentials) -> None:
    key = headers.get("x-mbx-apikey")
    if key is None or not key.strip() or len(key) > 256:
        raise ApiError(401, -2014, "API-key format invalid.")
    if not hmac.compare_digest(key.encode("utf-8"), creds.api_key.encode("utf-8")):
        raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def _mandatory(name: str) -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _timestamp(params: Mapping[str, str]) -> Decimal:
    raw = params.get("timestamp", "")
    if not raw.isdigit():
        raise _mandatory("timestamp")
    value = Decimal(raw)
    return value / 1000 if value >= _MICROSECONDS else value


def _recv_window(params: Mapping[str, str]) -> Decimal:
    raw = params.get("recvWindow")
    if raw is None:
        return DEFAULT_RECV_WINDOW
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _mandatory("recvWindow") from None
    if not value.is_finite() or value < 0 or -value.as_tuple().exponent > 3:
        raise _mandatory("recvWindow")
    if value > MAX_RECV_WINDOW:
        raise ApiError(400, -1102, f"'recvWindow' contains unexpected value. Cannot be greater "
                                   f"than {MAX_RECV_WINDOW}.")
    return value


def check_timing(params: Mapping[str, str], server_ms: int) -> None:
    """Accept only timestamp < server + 1000 ms and server - timestamp <= recvWindow."""
    window = _recv_window(params)
    stamp = _timestamp(params)
    if stamp >= server_ms + 1000:
        raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server_ms - stamp > window:
        raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """(payload that was signed, the signature sent): query + body with `signature=` removed."""
    found = None
    parts = []
    for part in (query, body):
        match = _SIGNATURE_RE.search(part)
        if match and found is None:
            found = match.group(0).split("=", 1)[1]
            part = (part[:match.start()] + part[match.end():]).lstrip("&") if match.start() == 0 \
                else part[:match.start()] + part[match.end():]
        parts.append(part)
    return "".join(parts), found


def _invalid_signature() -> ApiError:
    return ApiError(400, -1022, "Signature for this request is not valid.")


def _check_ed25519(key: Ed25519PublicKey, payload: str, sent: str) -> None:
    """The sent value is percent-encoded base64 (case-sensitive) of a 64-byte signature."""
    try:
        raw = base64.b64decode(unquote_plus(sent, errors="strict"), validate=True)
        key.verify(raw, payload.encode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, InvalidSignature):
        raise _invalid_signature() from None


def check_signature(query: str, body: str, creds: Credentials) -> None:
    payload, signature = signed_payload(query, body)
    if not signature:
        raise _mandatory("signature")
    if creds.ed25519 is not None:
        _check_ed25519(creds.ed25519, payload, signature)
        return
    assert creds.api_secret is not None
    expected = hmac.new(creds.api_secret.encode("utf-8"), payload.encode("utf-8"),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("utf-8")):
        raise _invalid_signature()
