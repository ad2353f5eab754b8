"""Signing against the shared signature vectors, and credentials from the environment."""

from __future__ import annotations

import pytest
from binance_fakes import shared_json
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from planrunner.errors import AuthError
from planrunner.exchanges.binance.signing import (
    Ed25519Signer,
    HmacSigner,
    RsaSigner,
    encode_params,
    load_private_key,
    redact,
    signed_payload,
    signer_from_env,
)


def _vectors(usable_only: bool = True) -> list[dict]:
    data = shared_json("signature-vectors.json")
    return [v for v in data["vectors"] if v["verified_offline"] or not usable_only]


def _signer_for(vector: dict):
    secret = vector["secret_or_private_key_pem"]
    if vector["scheme"] == "HMAC_SHA256":
        return HmacSigner(vector["api_key"] or "k", secret)
    password = vector["private_key_password"]
    return load_private_key(vector["api_key"] or "k", secret.encode("ascii"),
                            password.encode("utf-8") if password else None)


def _verified_ids() -> list[str]:
    try:
        return [v["id"] for v in _vectors()]
    except pytest.skip.Exception:
        return []


@pytest.mark.parametrize("vector_id", _verified_ids() or ["absent"])
def test_every_verified_vector_signs_exactly(vector_id: str) -> None:
    vector = next(v for v in _vectors() if v["id"] == vector_id)
    signature = _signer_for(vector).sign(vector["payload"].encode("utf-8"))
    if vector["signature_encoding"] == "hex":
        assert signature.lower() == vector["expected_signature"].lower()
    else:
        assert signature == vector["expected_signature"]


def test_vectors_cover_all_three_schemes() -> None:
    schemes = {v["scheme"] for v in _vectors()}
    assert schemes == {"HMAC_SHA256", "RSA_PKCS1v15_SHA256", "ED25519"}


def test_rest_vectors_with_params_are_built_by_encode_params() -> None:
    with_params = [v for v in _vectors() if v.get("params_in_order")]
    assert with_params, "the REST vectors carry their parameters"
    for vector in with_params:
        params = [(k, v) for k, v in vector["params_in_order"]]
        assert encode_params(params) == vector["payload"]
        # signature appended last, over exactly the encoded bytes
        full = signed_payload(params, _signer_for(vector))
        payload, _, signature = full.rpartition("&signature=")
        assert payload == vector["payload"]
        assert signature.lower() == vector["expected_signature"].lower()


class _FixedSigner:
    api_key = "k"
    scheme = "FIXED"

    def __init__(self, signature: str):
        self._signature = signature

    def sign(self, payload: bytes) -> str:
        return self._signature


def test_base64_signatures_are_percent_encoded_in_the_payload() -> None:
    encoded = [v for v in _vectors(usable_only=False) if v.get("expected_signature_urlencoded")]
    assert encoded
    for vector in encoded:
        full = signed_payload([("symbol", "BTCUSDT")], _FixedSigner(vector["expected_signature"]))
        assert full == f"symbol=BTCUSDT&signature={vector['expected_signature_urlencoded']}"


def test_non_ascii_and_json_values_are_utf8_percent_encoded() -> None:
    assert encode_params([("symbol", "１２３４５６")]) == \
        "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
    assert encode_params([("symbols", '["BTCUSDT","LTCUSDT"]')]) == \
        "symbols=%5B%22BTCUSDT%22%2C%22LTCUSDT%22%5D"
    assert encode_params([("id", "a-b_c.d~e f+g/h=")]) == "id=a-b_c.d~e%20f%2Bg%2Fh%3D"


def test_ed25519_rest_path_matches_derived_reference_vector() -> None:
    fix = next(v for v in _vectors() if v["id"] == "docs-fix-logon-ed25519")
    signer = _signer_for(fix)
    assert isinstance(signer, Ed25519Signer)
    params = [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.2"), ("timestamp", "1668481559918"),
              ("recvWindow", "5000")]
    # reference §2.6.3: derived from the published FIX key, signature then percent-encoded
    assert signed_payload(params, signer).endswith(
        "signature=inDT086KVIP8vgUfw5sV3VTkescWztiAGlf4x8FLKHM4NInsn0c1kYVLoGMO8cyjfR6vmTku2YQE0gtfVVlfCw%3D%3D")


def test_signature_is_redacted() -> None:
    text = "GET /api/v3/order?symbol=X&signature=abcdef&timestamp=1 and signature=zz"
    assert redact(text) == "GET /api/v3/order?symbol=X&signature=<redacted>&timestamp=1 and signature=<redacted>"


# --- credentials from the environment ----------------------------------------------------------

def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def test_no_credentials_means_no_signer() -> None:
    assert signer_from_env({}) is None


def test_hmac_credentials() -> None:
    signer = signer_from_env({"BINANCE_API_KEY": "key", "BINANCE_API_SECRET": "topsecret"})
    assert isinstance(signer, HmacSigner) and signer.api_key == "key"
    assert "topsecret" not in repr(signer)


@pytest.mark.parametrize("env, variable", [
    ({"BINANCE_API_SECRET": "topsecret"}, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": "key"}, "BINANCE_API_SECRET"),
    ({"BINANCE_PRIVATE_KEY_FILE": "/nowhere.pem"}, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": "key", "BINANCE_PRIVATE_KEY_FILE": "/nonexistent/key.pem"},
     "BINANCE_PRIVATE_KEY_FILE"),
])
def test_half_set_credentials_say_which_variable_to_set(env: dict, variable: str) -> None:
    with pytest.raises(AuthError) as info:
        signer_from_env(env)
    assert variable in str(info.value)
    assert "topsecret" not in str(info.value)


def test_private_key_files(tmp_path) -> None:
    ed = tmp_path / "ed.pem"
    ed.write_bytes(_pem(ed25519.Ed25519PrivateKey.generate()))
    rs = tmp_path / "rsa.pem"
    rs.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    assert isinstance(signer_from_env({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(ed)}),
                      Ed25519Signer)
    assert isinstance(signer_from_env({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(rs)}),
                      RsaSigner)


def test_encrypted_key_needs_the_right_password(tmp_path) -> None:
    vector = next(v for v in _vectors() if v["id"] == "pb-rsa-pkcs8-encrypted")
    path = tmp_path / "enc.pem"
    path.write_text(vector["secret_or_private_key_pem"])
    env = {"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(path)}
    with pytest.raises(AuthError, match="BINANCE_PRIVATE_KEY_PASSWORD"):
        signer_from_env(env)
    with pytest.raises(AuthError, match="BINANCE_PRIVATE_KEY_PASSWORD") as info:
        signer_from_env({**env, "BINANCE_PRIVATE_KEY_PASSWORD": "wrong-pw-123"})
    assert "wrong-pw-123" not in str(info.value)
    signer = signer_from_env({**env, "BINANCE_PRIVATE_KEY_PASSWORD": vector["private_key_password"]})
    assert signer.sign(vector["payload"].encode()) == vector["expected_signature"]


def test_garbage_key_file_is_a_clear_auth_error(tmp_path) -> None:
    path = tmp_path / "junk.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(AuthError, match="PKCS#8 PEM"):
        signer_from_env({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(path)})
