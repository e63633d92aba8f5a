"""Keys, CSRs and certificates (cryptography), and the private files Granian reads."""

import contextlib
import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey


def new_key() -> PrivateKey:
    """A P-256 key: fast handshakes, accepted by every ACME CA."""
    return ec.generate_private_key(ec.SECP256R1())


def key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def key_from_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("expected an EC private key")
    return key


def csr_for(key: PrivateKey, names: list[str]) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class CertInfo:
    names: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int

    def renewal_due(self) -> datetime.datetime:
        """Two thirds into the certificate's lifetime."""
        return self.not_before + (self.not_after - self.not_before) * 2 / 3


def inspect(cert_pem: str) -> CertInfo:
    """Names and validity of the first (leaf) certificate in a PEM chain."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    return CertInfo(names, cert.not_valid_before_utc, cert.not_valid_after_utc, cert.serial_number)


def self_signed(names: list[str], days: int = 7) -> tuple[str, str]:
    """A placeholder so the TLS listener can start before the first real certificate."""
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fazt (certificate pending)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_to_pem(key)


class RuntimeFiles:
    """Certificate and key files for Granian in a private directory, removed on close.

    The directory is mode 0700 and the files 0600; each write uses new file names so a
    listener that is still starting never reads a half-written pair.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0

    def write(self, cert_pem: str, key_pem: str) -> tuple[Path, Path]:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._count += 1
        stem = f"tls-{os.getpid()}-{self._count}"
        cert_path = self.directory / f"{stem}.crt"
        key_path = self.directory / f"{stem}.key"
        for path, text in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        return cert_path, key_path

    def remove(self, *paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove this process's files (another worker may still use its own)."""
        if not self.directory.exists():
            return
        for path in self.directory.glob(f"tls-{os.getpid()}-*"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # another worker's files may remain
            self.directory.rmdir()
