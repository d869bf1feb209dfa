"""JSON Web Tokens for service accounts: the signing key, signing, and signature checks.

The key is made once, at first start, next to the rest of the cluster PKI
(`<data-dir>/server/tls/service.key`, the name k3s uses): RSA 2048 signing RS256, which is what
kubeadm and k3s clusters issue and what every OIDC relying party accepts. An existing P-256 key
in that file is used as is (ES256). The `kid` header is derived from the public key as upstream
derives it — the unpadded base64url SHA-256 of its DER SubjectPublicKeyInfo — so the OIDC key set
(`/openid/v1/jwks`) lets anyone check a token without asking the cluster.

JWS compact serialization is a few lines over `cryptography` (already a dependency); PyJWT would
add a package for no less code. This module only signs and checks signatures and formats; what a
token *means* (claims, bound objects, audiences) is `serviceaccount_tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

Obj = dict[str, Any]
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KEY_FILE = "service.key"


class InvalidToken(Exception):
    """Not a well-formed token, or one whose signature no known key verifies."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("malformed base64url segment") from exc


def key_id(public_key: PublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url(hashlib.sha256(der).digest())


def algorithm(public_key: PublicKey) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError(f"unsupported service-account key curve {public_key.curve.name}")


def _int_b64(value: int, length: int = 0) -> str:
    return b64url(value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big"))


def public_jwk(public_key: PublicKey) -> Obj:
    """The public key as a JWK (RFC 7517), with upstream's `use`, `kid` and `alg`."""
    jwk: Obj = {"use": "sig", "kid": key_id(public_key), "alg": algorithm(public_key)}
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        jwk.update({"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)})
    else:
        point = public_key.public_numbers()
        jwk.update({"kty": "EC", "crv": "P-256", "x": _int_b64(point.x, 32), "y": _int_b64(point.y, 32)})
    return jwk


def _load_or_create(path: Path) -> PrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), None)
        if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: the service-account key must be RSA or ECDSA P-256")
        return loaded
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key


class SigningKey:
    """The service-account signing key of this cluster."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.private_key = _load_or_create(path)
        self.public_key: PublicKey = self.private_key.public_key()
        self.kid = key_id(self.public_key)
        self.algorithm = algorithm(self.public_key)

    def sign(self, claims: Obj) -> str:
        header = b64url(orjson.dumps({"alg": self.algorithm, "kid": self.kid}))
        signing_input = f"{header}.{b64url(orjson.dumps(claims))}".encode()
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            signature = self.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input.decode()}.{b64url(signature)}"


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


def unverified_claims(token: str) -> tuple[Obj, Obj]:
    """(header, claims) of a compact JWS, without checking the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a JWT has three segments")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
        claims = orjson.loads(b64url_decode(parts[1]))
    except orjson.JSONDecodeError as exc:
        raise InvalidToken("a JWT segment is not JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("a JWT header and payload are JSON objects")
    return header, claims


def verify_signature(token: str, keys: dict[str, PublicKey]) -> Obj:
    """The claims of `token` if one of `keys` (by key id) made its signature; the key named by
    the `kid` header is tried first, then the others, as a token may come without one."""
    header, claims = unverified_claims(token)
    signing_input, _, encoded = token.rpartition(".")
    signature = b64url_decode(encoded)
    alg = header.get("alg")
    kid = header.get("kid")
    named = keys.get(kid) if isinstance(kid, str) else None
    for key in ([named] if named is not None else []) + [k for k in keys.values() if k is not named]:
        if algorithm(key) != alg:
            continue
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(signature) != 64:
                    continue
                der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
                key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return claims
    raise InvalidToken("no known key verifies the token's signature")
