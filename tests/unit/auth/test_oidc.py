"""ID-token verification (fazt.auth.oidc): signatures (RS256, ES256, nothing else) and
claims, with the issuer's JWKS put in the module's cache (no network)."""

import asyncio
import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from fazt.auth import oidc
from fazt.auth.visitors import VisitorAuthError

ISSUER, CLIENT, NONCE = "https://id.example.test", "client-1", "n-123"
D = oidc.Discovery(ISSUER, ISSUER + "/auth", ISSUER + "/token", ISSUER + "/jwks")
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC = ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def num(n: int, size: int | None = None) -> str:
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


def jwks() -> dict:
    r, e = RSA_KEY.public_key().public_numbers(), EC_KEY.public_key().public_numbers()
    return {
        "keys": [
            {"kty": "RSA", "kid": "r", "n": num(r.n), "e": num(r.e)},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": num(e.x, 32), "y": num(e.y, 32)},
        ]
    }


@pytest.fixture(autouse=True)
def cached_jwks(monkeypatch):
    monkeypatch.setattr(oidc, "_cache", {D.jwks_uri: (time.monotonic() + 60, jwks())})


def claims(**extra) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 60}
    return {**base, "nonce": NONCE, **extra}


def token(body: dict, alg: str = "RS256", kid: str = "r", key=None) -> str:
    head = b64(json.dumps({"alg": alg, "kid": kid}).encode())
    signed = f"{head}.{b64(json.dumps(body).encode())}"
    if alg == "RS256":
        sig = (key or RSA_KEY).sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        der = (key or EC_KEY).sign(signed.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = b""
    return f"{signed}.{b64(sig)}"


def verify(tok: str) -> dict:
    return asyncio.run(oidc.verify_id_token(tok, D, CLIENT, NONCE))


def refused(tok: str) -> str:
    with pytest.raises(VisitorAuthError) as err:
        verify(tok)
    assert err.value.code == "SIGN_IN_FAILED"
    return err.value.message


def test_rs256_and_es256_tokens_verify():
    assert verify(token(claims()))["sub"] == "u1"
    assert verify(token(claims(), "ES256", "e"))["sub"] == "u1"
    multi = claims(aud=[CLIENT, "other"], azp=CLIENT)
    assert verify(token(multi))["sub"] == "u1"


def test_other_algorithms_and_keys_are_refused():
    assert "algorithm" in refused(token(claims(), "none"))
    assert "algorithm" in refused(token(claims(), "HS256"))
    assert "signature" in refused(token(claims(), "ES256", "e", OTHER_EC))
    assert "signature" in refused(
        token(claims(), "RS256", "r", rsa.generate_private_key(65537, 2048))
    )
    good = token(claims())
    head, _, sig = good.split(".")
    forged = b64(json.dumps(claims(sub="admin")).encode())
    assert "signature" in refused(f"{head}.{forged}.{sig}")
    assert "not a JWT" in refused("a.b")


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"iss": "https://evil.test"}, "issuer"),
        ({"aud": "other"}, "client"),
        ({"aud": [CLIENT, "other"]}, "azp"),
        # times relative to when the test runs (collection may be minutes earlier)
        ({"exp": -oidc.SKEW_SECONDS - 5}, "expired"),
        ({"iat": oidc.SKEW_SECONDS + 60}, "future"),
        ({"nonce": "other"}, "nonce"),
        ({"sub": ""}, "subject"),
    ],
)
def test_claims_are_checked(extra, why):
    now = int(time.time())
    extra = {k: now + v if k in ("exp", "iat") else v for k, v in extra.items()}
    assert why in refused(token(claims(**extra)))


def test_a_small_clock_skew_is_allowed():
    assert verify(token(claims(exp=int(time.time()) - 30)))["sub"] == "u1"


def test_pkce_challenge_is_s256_of_the_verifier():
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oidc.challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
