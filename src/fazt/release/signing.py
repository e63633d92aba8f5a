"""Ed25519 signatures over the release index."""

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def generate_key(path: Path) -> str:
    """Write a new private key (PEM, mode 0600); return its public key (base64)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_key_b64(key)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The signature file's content: base64 of the 64-byte signature, one line."""
    return base64.b64encode(key.sign(data)) + b"\n"


def verify(data: bytes, signature: bytes, trusted: list[str]) -> bool:
    """True when `signature` (the .sig file's content) is valid for `data` by a trusted key."""
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    for key_b64 in trusted:
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64)).verify(raw, data)
            return True
        except (InvalidSignature, ValueError):
            continue
    return False
