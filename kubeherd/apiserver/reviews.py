"""The review kinds: requests answered on the spot and never stored.

`kubectl auth can-i` (SelfSubjectAccessReview, `--list`: SelfSubjectRulesReview), `kubectl auth
whoami` (SelfSubjectReview), and the reviews other components ask for (SubjectAccessReview,
LocalSubjectAccessReview, TokenReview). Each answer is the request with its `status` filled in,
decided by the same authentication and authorization the server applies to every request.
"""

from __future__ import annotations

from typing import Any

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver import auth
from kubeherd.apiserver.admission import UserInfo

Obj = dict[str, Any]
REVIEW_KINDS = frozenset({"SelfSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectReview",
                          "SubjectAccessReview", "LocalSubjectAccessReview", "TokenReview"})
ALL_RULES: Obj = {
    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
    "incomplete": False,
}


def _user_info(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = user.extra
    return info


def _access(user: UserInfo) -> Obj:
    if auth.authorize(user):
        return {"allowed": True, "reason": "allowed: member of system:masters"}
    return {"allowed": False}


def review(resource: Resource, namespace: str, body: Any, user: UserInfo | None,
           authenticator: auth.Authenticator | None) -> Obj:
    if not isinstance(body, dict):
        raise errors.bad_request(f"the body of the request must be a {resource.kind} object")
    if user is None:
        raise errors.unauthorized()
    spec = body.get("spec") or {}
    kind = resource.kind
    if kind == "SelfSubjectReview":
        status: Obj = {"userInfo": _user_info(user)}
    elif kind == "SelfSubjectAccessReview":
        status = _access(user)
    elif kind == "SelfSubjectRulesReview":
        status = ALL_RULES if auth.authorize(user) else {"resourceRules": [], "nonResourceRules": [],
                                                          "incomplete": False}
    elif kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
        if not spec.get("user") and not spec.get("groups"):
            raise errors.invalid(resource.group, kind, "", [{
                "type": "FieldValueInvalid", "field": "spec.user",
                "message": 'Invalid value: "": at least one of user or group must be specified'}])
        if kind == "LocalSubjectAccessReview" and \
                (spec.get("resourceAttributes") or {}).get("namespace", namespace) != namespace:
            raise errors.invalid(resource.group, kind, "", [{
                "type": "FieldValueInvalid", "field": "spec.resourceAttributes.namespace",
                "message": "Invalid value: must match metadata.namespace"}])
        status = _access(UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ())))
    else:  # TokenReview
        token = str(spec.get("token") or "")
        found = authenticator.authenticate({"authorization": f"Bearer {token}"}, None) \
            if authenticator is not None and token else None
        status = {"authenticated": True, "user": _user_info(found)} if found else {
            "authenticated": False, "error": "invalid bearer token"}
        if spec.get("audiences"):
            status["audiences"] = list(spec["audiences"])
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "apiVersion": resource.api_version, "metadata": meta, "spec": spec, "status": status}
