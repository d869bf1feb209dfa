"""Service-account JWTs: signing and checking, claims, and what makes a token stop working."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kubeherd.apiserver.serviceaccount_tokens import (
    EXTRA_CREDENTIAL_ID,
    EXTRA_POD_NAME,
    EXTRA_POD_UID,
    IssuerConfig,
    ServiceAccountTokens,
    token_claims,
)
from kubeherd.apiserver.tokens import InvalidToken, SigningKey, key_id, public_jwk, verify_signature

NOW = 1_800_000_000


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = token.split(".")
    return json.loads(b64d(header)), json.loads(b64d(payload)), b64d(signature)


def test_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = SigningKey(tmp_path / "service.key")
    again = SigningKey(tmp_path / "service.key")
    assert first.kid == again.kid
    assert (tmp_path / "service.key").stat().st_mode & 0o777 == 0o600
    assert isinstance(first.private_key, rsa.RSAPrivateKey) and first.private_key.key_size == 2048


def test_kid_is_the_hash_of_the_public_key_der(tmp_path: Path) -> None:
    key = SigningKey(tmp_path / "service.key")
    der = key.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    assert key.kid == base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode()


def test_rs256_token_verifies_with_the_public_key_alone(tmp_path: Path) -> None:
    key = SigningKey(tmp_path / "service.key")
    token = key.sign({"sub": "someone", "n": 1})
    header, claims, signature = segments(token)
    assert header == {"alg": "RS256", "kid": key.kid}
    assert claims == {"sub": "someone", "n": 1}
    signing_input = token.rsplit(".", 1)[0].encode()
    key.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    assert verify_signature(token, {key.kid: key.public_key}) == claims


def test_es256_keys_work_too(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.key").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key = SigningKey(tmp_path / "ec.key")
    token = key.sign({"a": "b"})
    assert segments(token)[0]["alg"] == "ES256"
    assert verify_signature(token, {key.kid: key.public_key}) == {"a": "b"}
    jwk = public_jwk(key.public_key)
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["kid"] == key_id(key.public_key)


def test_forged_or_foreign_tokens_are_refused(tmp_path: Path) -> None:
    key = SigningKey(tmp_path / "a.key")
    other = SigningKey(tmp_path / "b.key")
    token = key.sign({"sub": "x"})
    header, payload, signature = token.split(".")
    tampered_payload = base64.urlsafe_b64encode(b'{"sub":"admin"}').rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify_signature(f"{header}.{tampered_payload}.{signature}", {key.kid: key.public_key})
    with pytest.raises(InvalidToken):
        verify_signature(other.sign({"sub": "x"}), {key.kid: key.public_key})
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify_signature(f"{none_header}.{payload}.", {key.kid: key.public_key})
    with pytest.raises(InvalidToken):
        verify_signature("not-a-jwt", {key.kid: key.public_key})


def test_rsa_jwk_carries_modulus_and_exponent(tmp_path: Path) -> None:
    key = SigningKey(tmp_path / "service.key")
    jwk = public_jwk(key.public_key)
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["e"] == "AQAB"
    numbers = key.public_key.public_numbers()  # type: ignore[union-attr]
    assert int.from_bytes(b64d(jwk["n"]), "big") == numbers.n


ACCOUNT = {"metadata": {"name": "builder", "namespace": "ci", "uid": "sa-uid"}}
POD = {"metadata": {"name": "job-1", "namespace": "ci", "uid": "pod-uid"}, "spec": {"serviceAccountName": "builder"}}


def test_claims_follow_upstream() -> None:
    claims = token_claims("https://issuer", ACCOUNT, ["aud-1"], 3600, pod=POD,
                          node={"metadata": {"name": "n1", "uid": "node-uid"}}, warn_after=3607, now=NOW)
    assert claims["sub"] == "system:serviceaccount:ci:builder"
    assert claims["iss"] == "https://issuer" and claims["aud"] == ["aud-1"]
    assert claims["iat"] == claims["nbf"] == NOW and claims["exp"] == NOW + 3600
    assert claims["jti"]
    assert claims["kubernetes.io"] == {
        "namespace": "ci", "serviceaccount": {"name": "builder", "uid": "sa-uid"},
        "pod": {"name": "job-1", "uid": "pod-uid"}, "node": {"name": "n1", "uid": "node-uid"},
        "warnafter": NOW + 3607}


class FakeCache:
    """Just enough of the registry for the authenticator: objects by (plural, namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}

    def lookup(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural, namespace, name))


def authenticator(tmp_path: Path, cache: FakeCache, clock: list[float], **config: Any) -> ServiceAccountTokens:
    tokens = ServiceAccountTokens.__new__(ServiceAccountTokens)
    key = SigningKey(tmp_path / "service.key")
    tokens.key = key
    tokens.keys = {key.kid: key.public_key}
    tokens.config = IssuerConfig(**config)
    tokens.clock = lambda: clock[0]
    tokens.lookup = cache.lookup  # type: ignore[method-assign]
    return tokens


def test_token_authenticates_until_expiry_and_while_bound_pod_lives(tmp_path: Path) -> None:
    cache = FakeCache()
    cache.objects[("serviceaccounts", "ci", "builder")] = ACCOUNT
    cache.objects[("pods", "ci", "job-1")] = POD
    clock = [float(NOW)]
    tokens = authenticator(tmp_path, cache, clock)
    claims = token_claims(tokens.config.issuer, ACCOUNT, tokens.config.audiences, 3600, pod=POD, now=NOW)
    token = tokens.key.sign(claims)
    user = tokens.authenticate(token)
    assert user is not None
    assert user.name == "system:serviceaccount:ci:builder" and user.uid == "sa-uid"
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated")
    assert user.extra[EXTRA_POD_NAME] == ["job-1"] and user.extra[EXTRA_POD_UID] == ["pod-uid"]
    assert user.extra[EXTRA_CREDENTIAL_ID] == [f"JTI={claims['jti']}"]
    clock[0] = NOW + 3600 + 59  # inside the minute of leeway
    assert tokens.authenticate(token) is not None
    clock[0] = NOW + 3600 + 61
    assert tokens.authenticate(token) is None
    clock[0] = NOW + 10
    deleted_at = datetime.datetime.fromtimestamp(NOW - 120, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cache.objects[("pods", "ci", "job-1")] = {**POD, "metadata": {**POD["metadata"], "deletionTimestamp": deleted_at}}
    assert tokens.authenticate(token) is None  # terminating for over a minute
    cache.objects[("pods", "ci", "job-1")] = {**POD, "metadata": {**POD["metadata"], "uid": "another"}}
    assert tokens.authenticate(token) is None  # a new pod of the same name
    del cache.objects[("pods", "ci", "job-1")]
    assert tokens.authenticate(token) is None


def test_wrong_audience_issuer_or_account_is_refused(tmp_path: Path) -> None:
    cache = FakeCache()
    cache.objects[("serviceaccounts", "ci", "builder")] = ACCOUNT
    clock = [float(NOW)]
    tokens = authenticator(tmp_path, cache, clock, api_audiences=["api"])
    good = tokens.key.sign(token_claims(tokens.config.issuer, ACCOUNT, ["api", "x"], 3600, now=NOW))
    assert tokens.authenticate(good) is not None
    assert tokens.authenticate(tokens.key.sign(token_claims(tokens.config.issuer, ACCOUNT, ["vault"], 3600,
                                                            now=NOW))) is None
    assert tokens.authenticate(tokens.key.sign(token_claims("https://elsewhere", ACCOUNT, ["api"], 3600,
                                                            now=NOW))) is None
    future = tokens.key.sign(token_claims(tokens.config.issuer, ACCOUNT, ["api"], 3600, now=NOW + 600))
    assert tokens.authenticate(future) is None  # not valid before nbf
    cache.objects[("serviceaccounts", "ci", "builder")] = {"metadata": {**ACCOUNT["metadata"], "uid": "recreated"}}
    assert tokens.authenticate(good) is None
