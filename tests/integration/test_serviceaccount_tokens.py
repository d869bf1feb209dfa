"""Service-account tokens through kubectl: TokenRequest, authentication, admission, legacy secrets, OIDC."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kubeherd.apiserver.tokens import SigningKey
from tests.integration.conftest import CLIENT_VERSIONS, Cluster, wait_for

ISSUER = "https://kubernetes.default.svc.cluster.local"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict[str, Any]:
    return json.loads(b64d(token.split(".")[1]))


def whoami(cluster: Cluster, token: str) -> dict[str, Any] | None:
    """The user the server sees for `token`, or None when it answers 401."""
    result = cluster.kubectl("--token", token, "auth", "whoami", "-o", "json", check=False)
    if result.returncode != 0:
        assert "Unauthorized" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)["status"]["userInfo"]


def create_token(cluster: Cluster, *args: str, version: str = "1.33") -> str:
    return cluster.kubectl("create", "token", *args, version=version).stdout.strip()


def apply(cluster: Cluster, doc: dict[str, Any], namespace: str = "default") -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_created_token_authenticates_as_the_service_account(cluster: Cluster, version: str) -> None:
    token = create_token(cluster, "default", version=version)
    header = json.loads(b64d(token.split(".")[0]))
    assert header["alg"] == "RS256" and header["kid"]
    claims = claims_of(token)
    assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
    assert claims["sub"] == "system:serviceaccount:default:default"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    user = whoami(cluster, token)
    assert user is not None
    assert user["username"] == "system:serviceaccount:default:default"
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    # authenticated, but (until RBAC) allowed nothing beyond asking about itself
    denied = cluster.kubectl("--token", token, "get", "pods", version=version, check=False)
    assert 'User "system:serviceaccount:default:default" cannot list resource "pods"' in denied.stderr
    assert cluster.kubectl("--token", token, "auth", "can-i", "get", "pods", version=version,
                           check=False).stdout.strip() == "no"


def test_duration_audience_and_refusals(cluster: Cluster) -> None:
    token = create_token(cluster, "default", "--duration", "10m", "--audience", "vault")
    claims = claims_of(token)
    assert claims["exp"] - claims["iat"] == 600 and claims["aud"] == ["vault"]
    assert whoami(cluster, token) is None  # not meant for this API server
    short = cluster.kubectl("create", "token", "default", "--duration", "5m", check=False)
    assert 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: ' \
           "may not specify a duration less than 10 minutes" in short.stderr
    missing = cluster.kubectl("create", "token", "nobody", version="1.27", check=False)
    assert 'serviceaccounts "nobody" not found' in missing.stderr


def test_forged_and_expired_tokens_are_unauthorized(cluster: Cluster) -> None:
    token = create_token(cluster, "default")
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    claims["sub"] = "system:serviceaccount:kube-system:default"
    forged = f"{header}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{signature}"
    assert whoami(cluster, forged) is None
    key = SigningKey(cluster.data_dir / "server" / "tls" / "service.key")  # the server's own key
    now = int(time.time())
    stale = {**claims_of(token), "iat": now - 7200, "nbf": now - 7200, "exp": now - 120}
    assert whoami(cluster, key.sign(stale)) is None
    fresh = {**stale, "exp": now + 600}
    assert whoami(cluster, key.sign(fresh))["username"] == "system:serviceaccount:default:default"  # type: ignore[index]


def test_pod_bound_token_stops_working_when_the_pod_is_deleted(cluster: Cluster) -> None:
    apply(cluster, pod("bound"))
    uid = cluster.kubectl_json("get", "pod", "bound")["metadata"]["uid"]
    wrong = cluster.kubectl("create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name",
                            "bound", "--bound-object-uid", "not-the-uid", check=False)
    assert "the UID in the bound object reference (not-the-uid) does not match the UID in record" in wrong.stderr
    token = create_token(cluster, "default", "--bound-object-kind", "Pod", "--bound-object-name", "bound",
                         "--bound-object-uid", uid, version="1.27")
    assert claims_of(token)["kubernetes.io"]["pod"] == {"name": "bound", "uid": uid}
    user = whoami(cluster, token)
    assert user is not None
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["bound"]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [uid]
    cluster.kubectl("delete", "pod", "bound", "--wait=false")
    wait_for(lambda: whoami(cluster, token) is None, message="the bound token refused")


def test_new_pods_get_the_kube_api_access_volume(cluster: Cluster) -> None:
    apply(cluster, pod("mounted", initContainers=[{"name": "i", "image": "busybox"}]))
    spec = cluster.kubectl_json("get", "pod", "mounted")["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    sources = volume["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    for container in spec["containers"] + spec["initContainers"]:
        assert {"name": volume["name"], "mountPath": MOUNT_PATH, "readOnly": True} in container["volumeMounts"]

    apply(cluster, pod("unmounted", automountServiceAccountToken=False))
    spec = cluster.kubectl_json("get", "pod", "unmounted")["spec"]
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]
    apply(cluster, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
                    "automountServiceAccountToken": False})
    apply(cluster, pod("quiet-pod", serviceAccountName="quiet"))
    assert "volumes" not in cluster.kubectl_json("get", "pod", "quiet-pod")["spec"]

    refused = cluster.kubectl("apply", "-f", "-", input=json.dumps(pod("orphan", serviceAccountName="ghost")),
                              check=False, version="1.27")
    assert 'pods "orphan" is forbidden: error looking up service account default/ghost: ' \
           'serviceaccount "ghost" not found' in refused.stderr


def test_legacy_token_secret_is_filled_and_lives_with_the_secret(cluster: Cluster) -> None:
    apply(cluster, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                    "metadata": {"name": "long-lived",
                                 "annotations": {"kubernetes.io/service-account.name": "default"}}})
    secret = wait_for(lambda: (s := cluster.kubectl_json("get", "secret", "long-lived")).get("data", {}).get("token")
                      and s, message="the token secret filled")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["namespace"] == "default"
    assert data["ca.crt"] == (cluster.data_dir / "server" / "tls" / "ca.crt").read_text()
    account = cluster.kubectl_json("get", "serviceaccount", "default")
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == account["metadata"]["uid"]
    assert whoami(cluster, data["token"])["username"] == "system:serviceaccount:default:default"  # type: ignore[index]
    cluster.kubectl("delete", "secret", "long-lived")
    wait_for(lambda: whoami(cluster, data["token"]) is None, message="the token refused once its secret is gone")


def test_oidc_discovery_documents_verify_tokens(cluster: Cluster) -> None:
    token = create_token(cluster, "default")
    config = json.loads(cluster.kubectl("--token", token, "get", "--raw", "/.well-known/openid-configuration").stdout)
    assert config["issuer"] == ISSUER
    assert config["jwks_uri"].startswith("https://") and config["jwks_uri"].endswith("/openid/v1/jwks")
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["response_types_supported"] == ["id_token"] and config["subject_types_supported"] == ["public"]
    keys = json.loads(cluster.kubectl("--token", token, "get", "--raw", "/openid/v1/jwks").stdout)["keys"]
    kid = json.loads(b64d(token.split(".")[0]))["kid"]
    (jwk,) = [k for k in keys if k["kid"] == kid]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    public = rsa.RSAPublicNumbers(int.from_bytes(b64d(jwk["e"]), "big"),
                                  int.from_bytes(b64d(jwk["n"]), "big")).public_key()
    signing_input, _, signature = token.rpartition(".")
    public.verify(b64d(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # raises if forged


def test_token_review_recognises_service_account_tokens(cluster: Cluster) -> None:
    token = create_token(cluster, "default")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    answer = json.loads(cluster.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review)).stdout)
    assert answer["status"]["authenticated"] is True
    assert answer["status"]["user"]["username"] == "system:serviceaccount:default:default"
