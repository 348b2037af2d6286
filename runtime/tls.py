"""TLS material: server/client credentials from PEM files (checked before use, with errors
naming the setting), private key files of any kind, and a throw-away development CA.

Production consortia use their own CA; ``DevCertificateAuthority`` exists so that the demo,
the tests and a first local set-up run over real TLS without any manual step.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from runtime.config import ConfigError, setting_file


@dataclass(frozen=True)
class TlsConfig:
    """Where a server finds its TLS material (the settings ``tls_cert``, ``tls_key`` and
    ``tls_client_ca``, named alike in hub, node and key service)."""

    cert_file: str
    """PEM certificate chain of this server."""

    key_file: str
    """PEM private key of this server."""

    client_ca_file: str = ""
    """If set, clients must present a certificate signed by this CA (mutual TLS)."""

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        """The PEM bytes of certificate, key and client CA, each checked: a file that cannot be
        read, that holds no PEM certificate (or private key), or a key that is not the
        certificate's is a ConfigError naming the setting. A server checks them before it opens
        anything else; grpc itself only fails to bind, as if the port were taken."""
        cert = _certificate(self.cert_file, "tls_cert")
        key = _private_key_of(cert, self.key_file, "tls_key", "tls_cert")
        client_ca = _ca_certificates(self.client_ca_file, "tls_client_ca") if self.client_ca_file else None
        return cert[0], key, client_ca


def read_private_key(path: str | Path, kind: type[Any] = object, name: str = "") -> Any:
    """An unencrypted PEM private key from ``path``, an instance of ``kind`` (e.g.
    ``Ed25519PrivateKey``, which ``name`` says in errors; the caller types the result): one place
    for every private key file of hub, node and key service.
    A file that is not one is a ValueError whose message names the file (``OSError`` if it cannot
    be read); start-up code turns either into a ConfigError naming the setting
    (``runtime.config.setting_file``)."""
    return _parse_private_key(Path(path).read_bytes(), path, kind, name)


def _parse_private_key(data: bytes, path: str | Path, kind: type[Any] = object, name: str = "") -> Any:
    try:
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:  # a password-protected key
        raise ValueError(f"{path} is an encrypted private key (an unencrypted PEM key is needed)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(f"{path} is not a PEM private key") from None
    if not isinstance(key, kind):
        raise ValueError(f"{path} is not an {name or kind.__name__} private key")
    return key


def _read(path: str, setting: str) -> bytes:
    """A PEM file's bytes; one that cannot be read is a ConfigError naming the setting."""
    with setting_file(setting, path):
        return Path(path).read_bytes()


def _certificate(path: str, setting: str) -> tuple[bytes, x509.Certificate]:
    """The bytes of a PEM certificate (chain) file and its first certificate, this party's own."""
    data = _read(path, setting)
    try:
        return data, x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(f"{setting}: {path} is not a PEM certificate") from None


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def _ca_certificates(path: str, setting: str) -> bytes:
    """The bytes of a PEM file of trusted CA certificates, holding at least one that parses (a
    bundle may hold an old certificate this parser is stricter about than TLS is)."""
    data = _read(path, setting)
    for block in _PEM_CERTIFICATE.findall(data):
        try:
            x509.load_pem_x509_certificate(block)
            return data
        except ValueError:
            continue
    raise ConfigError(f"{setting}: {path} is not a PEM certificate")


def _private_key_of(cert: tuple[bytes, x509.Certificate], path: str, setting: str, cert_setting: str) -> bytes:
    """The bytes of the PEM private key file of ``cert``: one that is not a key, or not that
    certificate's, is a ConfigError naming the setting."""
    data = _read(path, setting)
    with setting_file(setting, path):
        key = _parse_private_key(data, path)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert[1].public_key().public_bytes(*spki):
        raise ConfigError(f"{setting}: {path} is not the private key of the certificate in {cert_setting}")
    return data


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    cert, key, client_ca = tls.read()
    if client_ca is not None:
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=True)
    return grpc.ssl_server_credentials([(key, cert)])


CHANNEL_SETTINGS = ("CA certificate", "client certificate", "client key")
"""What ``channel_credentials`` calls its files in errors unless told the settings' names."""


def channel_credentials(
    ca_file: str, cert_file: str = "", key_file: str = "", *, settings: tuple[str, str, str] = CHANNEL_SETTINGS
) -> grpc.ChannelCredentials:
    """TLS to a server signed by ``ca_file``; with a client certificate and its key (mutual TLS),
    both or neither: grpc aborts the whole process on a certificate without its key. Every file is
    checked first (``TlsConfig.read``): grpc would open a channel on a CA file that holds no
    certificate and fail every call. ``settings``: the names of the three settings, for errors."""
    ca_setting, cert_setting, key_setting = settings
    if bool(cert_file) != bool(key_file):
        given, missing = ("certificate", "key") if cert_file else ("key", "certificate")
        raise ConfigError(
            f"a client {given} without its {missing}: give both ({cert_setting}, {key_setting}) or neither"
        )
    root = _ca_certificates(ca_file, ca_setting)
    if not cert_file:
        return grpc.ssl_channel_credentials(root_certificates=root)
    cert = _certificate(cert_file, cert_setting)
    key = _private_key_of(cert, key_file, key_setting, cert_setting)
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert[0])


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
