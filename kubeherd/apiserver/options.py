"""`kubeherd server --kube-apiserver-arg KEY=VALUE`: kube-apiserver flags by their upstream names.

As k3s passes `--kube-apiserver-arg` through to kube-apiserver, this maps the flags that mean
something here onto the server's settings, so a k3s user's flags carry over:

* `service-account-issuer` (the `iss` of the tokens this server mints; a URL, or a name without
  `:`), `api-audiences` (comma-separated; default: the issuer),
* `service-account-max-token-expiration` (a Go duration between 1h and 2^32 s; longer token
  requests are shortened to it), `service-account-extend-token-expiration` (true/false),
* `service-account-jwks-uri` (the `jwks_uri` of the OpenID discovery document).

An unknown key, or a value that does not parse, is a one-line error naming the flag.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from urllib.parse import urlparse

from kubeherd.apiserver.serviceaccount_tokens import IssuerConfig

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_TOKEN_EXPIRATION = 2**32


def go_duration_seconds(text: str) -> float:
    """Go's time.ParseDuration (`24h`, `1h30m`, `90s`), in seconds."""
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(text):
        part = _DURATION_PART.match(text, pos)
        if part is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        pos = part.end()
    if not text:
        raise ValueError('time: invalid duration ""')
    return total


def _bool(text: str) -> bool:
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _issuer(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    if ":" in text:
        try:
            scheme = urlparse(text).scheme
        except ValueError:
            scheme = ""
        if not scheme:
            raise ValueError(f"{text!r} contains a ':' but is not a valid URL")
    return text


def _max_expiration(text: str) -> int:
    seconds = go_duration_seconds(text)
    if seconds and not 3600 <= seconds <= MAX_TOKEN_EXPIRATION:
        raise ValueError("must be between 1 hour and 2^32 seconds")
    return int(seconds)


def _audiences(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


_SETTINGS: dict[str, tuple[str, Callable[[str], object]]] = {
    "service-account-issuer": ("issuer", _issuer),
    "api-audiences": ("api_audiences", _audiences),
    "service-account-max-token-expiration": ("max_expiration", _max_expiration),
    "service-account-extend-token-expiration": ("extend_expiration", _bool),
    "service-account-jwks-uri": ("jwks_uri", str),
}


def parse_kube_apiserver_args(args: list[str] | None, base: IssuerConfig | None = None) -> IssuerConfig:
    """Apply `KEY=VALUE` pairs (a leading `--` is allowed) to a copy of `base`."""
    config = dataclasses.replace(base) if base is not None else IssuerConfig()
    seen: set[str] = set()
    for arg in args or []:
        key, sep, value = arg.removeprefix("--").partition("=")
        if not sep:
            raise ValueError(f"--kube-apiserver-arg {arg!r}: want KEY=VALUE")
        if key not in _SETTINGS:
            raise ValueError(f"--kube-apiserver-arg {key!r}: unknown kube-apiserver flag; known: "
                             f"{', '.join(sorted(_SETTINGS))}")
        if key == "service-account-issuer" and key in seen:
            raise ValueError("--kube-apiserver-arg service-account-issuer: only one issuer is supported")
        seen.add(key)
        attr, convert = _SETTINGS[key]
        try:
            setattr(config, attr, convert(value))
        except ValueError as exc:
            raise ValueError(f"--kube-apiserver-arg {key}: {exc}") from None
    return config
