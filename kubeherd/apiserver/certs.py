"""The cluster PKI, generated once at first start and kept in `<data-dir>/server/tls`.

ECDSA P-256 keys, as k3s uses: fast to generate and to handshake, and accepted by every
Kubernetes client. The CA signs the serving certificate (IP SANs for loopback and the node's
addresses, the `kubernetes.default.svc…` DNS names) and client certificates whose CN is the user
and O the groups, which is how the apiserver authenticates x509 clients.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEN_YEARS = datetime.timedelta(days=3650)
ONE_YEAR = datetime.timedelta(days=365)
SERVICE_DNS_NAMES = (
    "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
    "localhost",
)


@dataclass(frozen=True)
class KeyPair:
    cert_path: Path
    key_path: Path

    def cert_pem(self) -> bytes:
        return self.cert_path.read_bytes()

    def key_pem(self) -> bytes:
        return self.key_path.read_bytes()


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _save(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    _write(pair.key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), 0o600)
    _write(pair.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return pair


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + TEN_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, common_name: str, organizations: list[str],
    *, server: bool, sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs)).issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + ONE_YEAR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                     crl_sign=False, content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def node_addresses() -> list[str]:
    """The IPv4 addresses this machine is known by, loopback first."""
    found = ["127.0.0.1"]
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if addr not in found:
                found.append(addr)
    except OSError:
        pass
    return found


class ClusterPKI:
    """Loads the PKI from `directory`, creating whatever is missing."""

    def __init__(self, directory: Path, extra_sans: list[str] | None = None, service_ip: str = "10.43.0.1") -> None:
        self.directory = directory
        self.extra_sans = extra_sans or []
        self.service_ip = service_ip  # the `kubernetes` Service's cluster IP: in-cluster clients dial it
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = self._ensure_ca()
        self.serving = self._ensure_serving()
        self.admin = self.client_cert("admin", "system:admin", ["system:masters"])
        # how the apiserver authenticates to kubelets (logs, exec, nodes/proxy), as kubeadm's
        # apiserver-kubelet-client
        self.kubelet_client = self.client_cert("kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"])

    def _load_ca(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca.cert_pem())
        key = serialization.load_pem_private_key(self.ca.key_pem(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cert, key

    def _ensure_ca(self) -> KeyPair:
        pair = KeyPair(self.directory / "ca.crt", self.directory / "ca.key")
        if pair.cert_path.exists() and pair.key_path.exists():
            return pair
        cert, key = _ca(f"kubeherd-ca@{int(datetime.datetime.now().timestamp())}")
        return _save(self.directory, "ca", cert, key)

    def _ensure_serving(self) -> KeyPair:
        """The API server's serving certificate, re-issued when the names it must carry changed
        (a new --tls-san, another service CIDR, a new node address)."""
        pair = KeyPair(self.directory / "serving.crt", self.directory / "serving.key")
        ips = node_addresses() + [self.service_ip, "::1"]
        names = [*SERVICE_DNS_NAMES, socket.gethostname()]
        for extra in self.extra_sans:
            try:
                ips.append(str(ipaddress.ip_address(extra)))
            except ValueError:
                names.append(extra)
        ips = list(dict.fromkeys(str(ipaddress.ip_address(ip)) for ip in ips))
        names = list(dict.fromkeys(names))
        if pair.cert_path.exists() and pair.key_path.exists() and _covers(pair, names, ips):
            return pair
        ca_cert, ca_key = self._load_ca()
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert, key = _leaf(ca_cert, ca_key, "kube-apiserver", [], server=True, sans=sans)
        return _save(self.directory, "serving", cert, key)

    def kubelet_serving(self, node_name: str, addresses: list[str]) -> KeyPair:
        """The serving certificate of ``node_name``'s kubelet (SANs: its name and ``addresses``),
        created on first use and again when the addresses change."""
        pair = KeyPair(self.directory / f"kubelet-{node_name}.crt", self.directory / f"kubelet-{node_name}.key")
        ips = list(dict.fromkeys(addresses))
        if pair.cert_path.exists() and pair.key_path.exists():
            cert = x509.load_pem_x509_certificate(pair.cert_pem())
            with contextlib.suppress(x509.ExtensionNotFound):
                have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                if {str(ip) for ip in have.get_values_for_type(x509.IPAddress)} == set(ips):
                    return pair
        ca_cert, ca_key = self._load_ca()
        sans: list[x509.GeneralName] = [x509.DNSName(node_name)]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert, key = _leaf(ca_cert, ca_key, f"system:node:{node_name}", ["system:nodes"], server=True, sans=sans)
        return _save(self.directory, f"kubelet-{node_name}", cert, key)

    def client_cert(self, file_name: str, user: str, groups: list[str]) -> KeyPair:
        """A client certificate for `user` in `groups`, created on first use."""
        pair = KeyPair(self.directory / f"client-{file_name}.crt", self.directory / f"client-{file_name}.key")
        if pair.cert_path.exists() and pair.key_path.exists():
            return pair
        ca_cert, ca_key = self._load_ca()
        cert, key = _leaf(ca_cert, ca_key, user, groups, server=False)
        return _save(self.directory, f"client-{file_name}", cert, key)


def _covers(pair: KeyPair, names: list[str], ips: list[str]) -> bool:
    """Whether the certificate of ``pair`` names every one of ``names`` and ``ips``."""
    cert = x509.load_pem_x509_certificate(pair.cert_pem())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(names) <= set(san.get_values_for_type(x509.DNSName)) and set(ips) <= have_ips
