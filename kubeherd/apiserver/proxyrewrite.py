"""Links in a proxied backend's answers, rewritten to point back through the apiserver's proxy.

Design, as upstream's proxy transport for ``pods/proxy`` and ``services/proxy``: a backend answers
as if it were served at ``/``, so an absolute link of its own (``href="/login"``, a redirect to
``/login``) would leave the proxy. Such links are made to start with the proxy prefix
(``/api/v1/namespaces/{ns}/pods/{name}/proxy``): the ``Location`` header of any answer, and in
``text/html`` bodies the URL-valued attributes of the tags in :data:`URL_ATTRIBUTES`. A link is
left alone when it is relative, already under the prefix, or names another host than the
backend or the one the client asked for. HTML is changed in place (only the attribute value
moves), so markup the rewriter does not touch stays byte for byte; gzip and raw-deflate bodies
are decoded, rewritten and encoded again, any other encoding is passed through.

Everything here is pure: the forwarding lives in :mod:`kubeherd.apiserver.podproxy`.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

# tag -> its attributes that hold a URL (HTML 4 and 5)
URL_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href"}), "applet": frozenset({"codebase"}), "area": frozenset({"href"}),
    "audio": frozenset({"src"}), "base": frozenset({"href"}), "blockquote": frozenset({"cite"}),
    "body": frozenset({"background"}), "button": frozenset({"formaction"}), "command": frozenset({"icon"}),
    "del": frozenset({"cite"}), "embed": frozenset({"src"}), "form": frozenset({"action"}),
    "frame": frozenset({"longdesc", "src"}), "head": frozenset({"profile"}), "html": frozenset({"manifest"}),
    "iframe": frozenset({"longdesc", "src"}), "img": frozenset({"longdesc", "src", "usemap"}),
    "input": frozenset({"src", "usemap", "formaction"}), "ins": frozenset({"cite"}), "link": frozenset({"href"}),
    "object": frozenset({"classid", "codebase", "data", "usemap"}), "q": frozenset({"cite"}),
    "script": frozenset({"src"}), "source": frozenset({"src"}), "video": frozenset({"poster", "src"}),
}
# elements whose content is text, not markup: a "<a href=…>" inside a script is not a link
_RAW_TEXT = frozenset({"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea",
                       "title", "xmp"})
_MARKUP = re.compile(r"<!--.*?-->|<([a-zA-Z][^\s/>]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
_ATTRIBUTE = re.compile(r"([^\s\"'>/=]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")


class LinkRewriter:
    """Rewrites one backend's links for one proxied request."""

    def __init__(self, prefix: str, backend_authority: str, request_host: str) -> None:
        self.prefix = prefix  # e.g. /api/v1/namespaces/default/pods/web:8080/proxy
        self.backend_authority = backend_authority  # host:port the request went to
        self.request_host = request_host  # the Host the client asked the apiserver for

    def url(self, target: str) -> str:
        try:
            parts = urlsplit(target)
        except ValueError:
            return target
        other_host = parts.netloc not in ("", self.backend_authority, self.request_host)
        if other_host or not parts.path.startswith("/"):
            return target
        scheme, netloc = ("", "") if parts.netloc != self.request_host else (parts.scheme, parts.netloc)
        path = parts.path
        if not path.startswith(self.prefix):
            joined = posixpath.normpath(self.prefix.rstrip("/") + "/" + path.lstrip("/"))
            path = joined + "/" if path.endswith("/") and not joined.endswith("/") else joined
        return urlunsplit((scheme, netloc, path, parts.query, parts.fragment))

    def html(self, body: bytes) -> bytes:
        text = body.decode("utf-8", errors="surrogateescape")
        return rewrite_html(text, self.url).encode("utf-8", errors="surrogateescape")

    def body(self, body: bytes, content_encoding: str) -> bytes | None:
        """The rewritten HTML body in its original encoding; None for an encoding not understood."""
        encoding = content_encoding.strip().lower()
        try:
            if encoding == "gzip":
                return gzip.compress(self.html(gzip.decompress(body)), mtime=0)
            if encoding == "deflate":
                compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                return compressor.compress(self.html(zlib.decompress(body, -15))) + compressor.flush()
        except (OSError, EOFError, zlib.error):
            return None
        return self.html(body) if encoding in ("", "identity") else None


def rewrite_html(text: str, rewrite: Callable[[str], str]) -> str:
    """``text`` with the URL attributes of :data:`URL_ATTRIBUTES` passed through ``rewrite``."""
    out: list[str] = []
    position = 0
    while (match := _MARKUP.search(text, position)) is not None:
        out.append(text[position:match.start()])
        position = match.end()
        name = (match.group(1) or "").lower()
        if not name:  # a comment
            out.append(match.group(0))
            continue
        out.append(_rewrite_tag(match, URL_ATTRIBUTES.get(name, frozenset()), rewrite))
        if name in _RAW_TEXT:
            end = re.compile(r"</" + re.escape(name) + r"[\s/>]", re.I).search(text, position)
            stop = end.start() if end else len(text)
            out.append(text[position:stop])
            position = stop
    out.append(text[position:])
    return "".join(out)


def _rewrite_tag(match: re.Match[str], attributes: frozenset[str], rewrite: Callable[[str], str]) -> str:
    tag = match.group(0)
    if not attributes:
        return tag
    offset = match.start(2) - match.start()
    pieces: list[str] = []
    last = 0
    for attribute in _ATTRIBUTE.finditer(match.group(2)):
        value = attribute.group(2)
        if value is None or attribute.group(1).lower() not in attributes:
            continue
        quote = value[0] if value[0] in "\"'" else ""
        inner = value[1:-1] if quote else value
        start = offset + attribute.start(2)
        pieces.append(tag[last:start])
        pieces.append(quote + rewrite(inner) + quote)
        last = start + len(value)
    pieces.append(tag[last:])
    return "".join(pieces)
