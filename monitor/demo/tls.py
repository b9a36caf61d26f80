"""An in-memory certificate authority that mints per-host server certificates for the fake internet."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Leaf certificates outlive any demo run but stay well under the 398-day ceiling browsers apply.
LEAF_VALIDITY = dt.timedelta(days=90)
CA_VALIDITY = dt.timedelta(days=365)
# Backdated so that a client clock slightly behind ours still accepts a freshly minted certificate.
CLOCK_SKEW = dt.timedelta(hours=1)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "scrapewatch fake internet"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class CertificateAuthority:
    """A throwaway CA generated at start-up; never written anywhere unless ``write_ca`` is asked to."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        # P-256 keys take microseconds to generate where RSA-2048 takes tens of milliseconds.
        self._key = ec.generate_private_key(ec.SECP256R1())
        # One leaf key for every host: minting a certificate then costs a signature, not a key pair.
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"scrapewatch fake internet CA {os.getpid()}")
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pem: bytes = self._cert.public_bytes(serialization.Encoding.PEM)
        spki = self._leaf_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Chromium's --ignore-certificate-errors-spki-list format (needs --user-data-dir to be honoured).
        self.leaf_spki_sha256: str = base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
        self._contexts: dict[str, ssl.SSLContext] = {}
        # BackgroundInternet callers and the server loop may both ask for contexts.
        self._lock = threading.Lock()

    def issue(self, host: str) -> bytes:
        """Return a PEM certificate for ``host`` (SAN = host) signed by this CA."""
        now = dt.datetime.now(dt.UTC)
        leaf_public = self._leaf_key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(self._cert.subject)
            .public_key(leaf_public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName([_san(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def server_context(self, host: str) -> ssl.SSLContext:
        """Return a cached server-side TLS context presenting a certificate for ``host``."""
        with self._lock:
            ctx = self._contexts.get(host)
            if ctx is None:
                ctx = self._contexts[host] = self._build_context(host)
            return ctx

    def _build_context(self, host: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        # Only HTTP/1.1 is spoken inside the tunnel; advertising it stops clients from trying h2.
        ctx.set_alpn_protocols(["http/1.1"])
        key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        chain = self.issue(host) + self.pem
        # ssl can only load a certificate chain from a file: it exists for the duration of this call.
        with tempfile.TemporaryDirectory(prefix="fake-internet-") as tmp:
            cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert_path.write_bytes(chain)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key_pem)
            ctx.load_cert_chain(cert_path, key_path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Return a client context that trusts only this CA (with hostname checking on)."""
        return ssl.create_default_context(cadata=self.pem.decode("ascii"))
