"""The cluster PKI: what the API server's serving certificate names, and when it is re-issued."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from kubeherd.apiserver.certs import ClusterPKI


def _sans(pki: ClusterPKI) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(pki.serving.cert_pem())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_serving_certificate_names_the_kubernetes_service(tmp_path: Path) -> None:
    names, ips = _sans(ClusterPKI(tmp_path))
    assert {"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} <= names
    assert "10.43.0.1" in ips and "127.0.0.1" in ips


def test_serving_certificate_follows_the_service_cidr_and_new_sans(tmp_path: Path) -> None:
    first = ClusterPKI(tmp_path)
    ca = first.ca.cert_pem()
    again = ClusterPKI(tmp_path)
    assert again.serving.cert_pem() == first.serving.cert_pem()  # nothing changed: kept
    moved = ClusterPKI(tmp_path, ["api.example.test", "192.0.2.77"], service_ip="10.96.0.1")
    names, ips = _sans(moved)
    assert "10.96.0.1" in ips and "192.0.2.77" in ips and "api.example.test" in names
    assert moved.ca.cert_pem() == ca  # the CA stays: clients' kubeconfigs keep working
    cert = x509.load_pem_x509_certificate(moved.serving.cert_pem())
    assert cert.issuer == x509.load_pem_x509_certificate(ca).subject
