"""The public keys that sign fazt releases: an index must carry a valid signature by one."""

from pathlib import Path

# Ed25519, base64 of the raw 32 bytes. The private half is held by the maintainers.
OFFICIAL_KEYS = ["WdNPU7zN02U4W3byjVUfHsytCy94kNBHRsiejyY5p0s="]

# A release built with `fazt release build --trust-signing-key` also trusts its own signer,
# listed here (tests and private builds sign their releases with their own key).
EXTRA_KEYS_FILE = Path(__file__).with_name("trusted_keys.txt")


def trusted_keys() -> list[str]:
    extra = []
    if EXTRA_KEYS_FILE.exists():
        extra = [line.strip() for line in EXTRA_KEYS_FILE.read_text().splitlines()]
    return OFFICIAL_KEYS + [key for key in extra if key and not key.startswith("#")]
