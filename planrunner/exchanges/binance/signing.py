"""Binance REST request signing: credentials from the environment, HMAC-SHA256 / Ed25519 / RSA
signers, and the percent-encoded payload that is signed and sent byte for byte.

Secrets live only inside the signer objects; their repr never shows them and no error quotes them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from planrunner.errors import AuthError

ENV_API_KEY = "BINANCE_API_KEY"
ENV_API_SECRET = "BINANCE_API_SECRET"
ENV_KEY_FILE = "BINANCE_PRIVATE_KEY_FILE"
ENV_KEY_PASSWORD = "BINANCE_PRIVATE_KEY_PASSWORD"


class Signer(Protocol):
    @property
    def api_key(self) -> str: ...

    @property
    def scheme(self) -> str: ...

    def sign(self, payload: bytes) -> str:
        """The signature text as Binance expects it (hex for HMAC, base64 otherwise)."""


class _KeyedSigner:
    """What every signer shares: the API key in the clear, the secret never in a repr."""

    def __init__(self, api_key: str, secret: object):
        self._api_key = api_key
        self._secret = secret

    @property
    def api_key(self) -> str:
        return self._api_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class HmacSigner(_KeyedSigner):
    scheme = "HMAC_SHA256"

    def __init__(self, api_key: str, secret: str):
        super().__init__(api_key, secret.encode("utf-8"))

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()


class Ed25519Signer(_KeyedSigner):
    scheme = "ED25519"

    def __init__(self, api_key: str, key: ed25519.Ed25519PrivateKey):
        super().__init__(api_key, key)

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._secret.sign(payload)).decode("ascii")


class RsaSigner(_KeyedSigner):
    scheme = "RSA_PKCS1v15_SHA256"

    def __init__(self, api_key: str, key: rsa.RSAPrivateKey):
        super().__init__(api_key, key)

    def sign(self, payload: bytes) -> str:
        raw = self._secret.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")


def encode_params(params: Sequence[tuple[str, str]]) -> str:
    """`name=value&...` in the given order, UTF-8 percent-encoded; only RFC 3986 unreserved
    characters stay literal, so what is signed is exactly what the server receives."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def signed_payload(params: Sequence[tuple[str, str]], signer: Signer) -> str:
    """The encoded params with `signature=` appended last (base64 signatures percent-encoded)."""
    payload = encode_params(params)
    signature = signer.sign(payload.encode("ascii"))
    joiner = "&" if payload else ""
    return f"{payload}{joiner}signature={quote(signature, safe='')}"


def redact(text: str) -> str:
    """Hide any `signature=` value in a URL or body before it goes anywhere near a log."""
    out, rest = [], text
    while "signature=" in rest:
        head, _, tail = rest.partition("signature=")
        end = tail.find("&")
        out.append(head + "signature=<redacted>")
        rest = tail[end:] if end >= 0 else ""
    return "".join(out) + rest


def load_private_key(api_key: str, pem: bytes, password: bytes | None) -> Signer:
    """An Ed25519 or RSA signer from a PKCS#8 PEM key. Raises AuthError (never quoting the key)."""
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError:
        hint = (f"the key is encrypted: set {ENV_KEY_PASSWORD}" if password is None
                else f"the key is not encrypted: unset {ENV_KEY_PASSWORD}")
        raise AuthError(f"cannot load the private key in {ENV_KEY_FILE}: {hint}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise AuthError(f"cannot load the private key in {ENV_KEY_FILE}: it is not a PKCS#8 PEM "
                        f"Ed25519 or RSA key, or {ENV_KEY_PASSWORD} is wrong") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(api_key, key)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(api_key, key)
    raise AuthError(f"the key in {ENV_KEY_FILE} is neither Ed25519 nor RSA; Binance accepts only "
                    "Ed25519, RSA or HMAC keys")


def _read_key_file(path_text: str) -> bytes:
    try:
        return Path(path_text).expanduser().read_bytes()
    except OSError as exc:
        raise AuthError(f"cannot read {ENV_KEY_FILE} ({path_text}): {exc.strerror or exc}; "
                        "point it at your PKCS#8 PEM private key file") from None


def signer_from_env(env: Mapping[str, str]) -> Signer | None:
    """The signer the environment describes, None when no credentials are set at all.

    Half-set credentials raise AuthError naming the variable to set.
    """
    api_key = env.get(ENV_API_KEY, "").strip()
    secret = env.get(ENV_API_SECRET, "")
    key_file = env.get(ENV_KEY_FILE, "").strip()
    if not (api_key or secret or key_file):
        return None
    if not api_key:
        raise AuthError(f"set {ENV_API_KEY} to your Binance API key (it goes with "
                        f"{ENV_API_SECRET if secret else ENV_KEY_FILE})")
    if key_file:
        password = env.get(ENV_KEY_PASSWORD)
        return load_private_key(api_key, _read_key_file(key_file),
                                password.encode("utf-8") if password else None)
    if not secret:
        raise AuthError(f"{ENV_API_KEY} is set but no secret: set {ENV_API_SECRET} (HMAC key) or "
                        f"{ENV_KEY_FILE} (Ed25519/RSA private key file)")
    return HmacSigner(api_key, secret)


def missing_credentials_error() -> AuthError:
    return AuthError(f"this call needs Binance API keys: set {ENV_API_KEY} and either "
                     f"{ENV_API_SECRET} (HMAC) or {ENV_KEY_FILE} (Ed25519/RSA, PKCS#8 PEM)")
