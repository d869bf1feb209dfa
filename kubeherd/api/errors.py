"""API errors as values: each one renders to the `Status` object upstream would return.

Handlers raise `APIError`; the HTTP layer turns it into a response with the right code. The
constructors below mirror upstream's `k8s.io/apimachinery/pkg/api/errors` so that kubectl prints
the same `Error from server (<reason>): <message>` lines it prints against any cluster.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details.update(extra)
    return details


def qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> APIError:
    return APIError(404, "NotFound", f'{qualified(group, resource)} "{name}" not found',
                    _details(name, group, resource))


def already_exists(group: str, resource: str, name: str) -> APIError:
    return APIError(409, "AlreadyExists", f'{qualified(group, resource)} "{name}" already exists',
                    _details(name, group, resource))


def conflict(group: str, resource: str, name: str, why: str) -> APIError:
    return APIError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(group, resource)} "{name}": {why}',
        _details(name, group, resource),
    )


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, causes: list[dict[str, str]]) -> APIError:
    """422 Invalid; each cause is {reason, message, field} with message the rendered field error
    (``type`` is accepted for ``reason``: the wire name of a StatusCause's CauseType is ``reason``)."""
    causes = [{"reason": c.get("reason") or c.get("type", ""), "message": c["message"], "field": c.get("field", "")}
              for c in causes]
    what = f"{kind}.{group}" if group else kind
    rendered = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    if len(rendered) == 1:
        message = f'{what} "{name}" is invalid: {rendered[0]}'
    else:
        message = f'{what} "{name}" is invalid: [{", ".join(rendered)}]'
    return APIError(422, "Invalid", message, _details(name, group, kind, causes=causes))


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> APIError:
    return APIError(405, "MethodNotAllowed", message, {})


def forbidden(user: str, verb: str, group: str, resource: str, name: str, namespace: str,
              subresource: str = "") -> APIError:
    res = resource + (f"/{subresource}" if subresource else "")
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    target = f' "{name}"' if name else ""
    message = (f'{qualified(group, resource)}{target} is forbidden: User "{user}" cannot {verb} resource '
               f'"{res}" in API group "{group}"{where}')
    return APIError(403, "Forbidden", message, _details(name, group, resource))


def unauthorized() -> APIError:
    return APIError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def too_large(limit: int) -> APIError:
    return APIError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                    f"accepted media types include: application/json, application/yaml "
                    f"(got {content_type!r})")


def not_acceptable(accept: str) -> APIError:
    return APIError(406, "NotAcceptable", f"only the following media types are accepted: application/json, "
                    f"application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (got {accept!r})")


def namespace_terminating(group: str, resource: str, name: str, namespace: str) -> APIError:
    return APIError(
        403, "Forbidden",
        f'{qualified(group, resource)} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated",
        _details(name, group, resource, causes=[{
            "reason": "NamespaceTerminating",
            "message": f"namespace {namespace} is being terminated",
            "field": "metadata.namespace",
        }]),
    )


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}",
                    {"causes": [{"message": message}]})


def timeout(message: str) -> APIError:
    return APIError(504, "Timeout", message)
