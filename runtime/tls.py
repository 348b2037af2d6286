"""TLS material: server/client credentials from PEM files, and a throw-away development CA.

Production consortia use their own CA; ``DevCertificateAuthority`` exists so that the demo,
the tests and a first local set-up run over real TLS without any manual step.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runtime.config import ConfigError


@dataclass(frozen=True)
class TlsConfig:
    """Where a server finds its TLS material."""

    cert_file: str
    """PEM certificate chain of this server."""

    key_file: str
    """PEM private key of this server."""

    client_ca_file: str = ""
    """If set, clients must present a certificate signed by this CA (mutual TLS)."""


def _pem(path: str, what: str) -> bytes:
    """A PEM file's bytes; one that cannot be read is a ConfigError naming it (not a traceback)."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{what} {path!r}: {error.strerror or error}") from None


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    key = _pem(tls.key_file, "TLS key")
    cert = _pem(tls.cert_file, "TLS certificate")
    if tls.client_ca_file:
        return grpc.ssl_server_credentials(
            [(key, cert)],
            root_certificates=_pem(tls.client_ca_file, "client CA"),
            require_client_auth=True,
        )
    return grpc.ssl_server_credentials([(key, cert)])


def channel_credentials(ca_file: str, cert_file: str = "", key_file: str = "") -> grpc.ChannelCredentials:
    """TLS to a server signed by ``ca_file``; with a client certificate and its key (mutual TLS),
    both or neither: grpc aborts the whole process on a certificate without its key."""
    if bool(cert_file) != bool(key_file):
        given, missing = ("certificate", "key") if cert_file else ("key", "certificate")
        raise ConfigError(f"a client {given} without its {missing}: give both (cert and key files) or neither")
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(ca_file, "CA certificate"),
        private_key=_pem(key_file, "client key") if key_file else None,
        certificate_chain=_pem(cert_file, "client certificate") if cert_file else None,
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class IssuedCertificate:
    cert_file: str
    key_file: str


class DevCertificateAuthority:
    """A development CA kept in a folder: ``ca.pem``/``ca-key.pem`` plus issued pairs."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_file = str(self.folder / "ca.pem")
        key_path = self.folder / "ca-key.pem"
        if key_path.exists():
            self._key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            self._cert = x509.load_pem_x509_certificate(Path(self.ca_file).read_bytes())
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lianfang development CA")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        key_path.write_bytes(_pem_key(self._key))  # type: ignore[arg-type]
        key_path.chmod(0o600)
        Path(self.ca_file).write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue_client(self, subject: str) -> IssuedCertificate:
        """A client certificate for a hub principal: common name = the principal's JWT subject
        (``lender-a``, ``admin/ops``, ``analyst/fraud``), which the hub binds to its tokens."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())  # type: ignore[arg-type]
        )
        stem = "client-" + subject.replace("/", "_")
        return self._write(stem, cert, key)

    def _write(self, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> IssuedCertificate:
        cert_path, key_path = self.folder / f"{stem}.pem", self.folder / f"{stem}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        return IssuedCertificate(str(cert_path), str(key_path))

    def issue(self, name: str, hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")) -> IssuedCertificate:
        """Issues a server+client certificate for ``name`` valid for the given hosts."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return self._write(name, cert, key)
