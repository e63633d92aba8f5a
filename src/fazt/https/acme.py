"""One certificate issuance through an ACME CA (RFC 8555) with HTTP-01, using aioacme.

The challenge answers are stored in the database so that whichever worker owns the
port-80 listener at that moment can answer the CA.
"""

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aioacme

from fazt.https import certs

POLL_SECONDS = 0.5
ORDER_DEADLINE_SECONDS = 120


class IssueError(Exception):
    """The order failed. `names` maps names whose validation failed to the CA's reason."""

    def __init__(self, message: str, names: dict[str, str] | None = None, retry_at=None) -> None:
        super().__init__(message)
        self.names = names or {}
        self.retry_at = retry_at


@dataclass(frozen=True)
class Issued:
    names: list[str]
    cert_pem: str
    key_pem: str


PutChallenge = Callable[[str, str], Awaitable[None]]
DropChallenges = Callable[[list[str]], Awaitable[None]]


def client_ssl(ca_bundle: str) -> ssl.SSLContext | bool:
    """Verify the CA's TLS certificate, against `ca_bundle` when one is configured."""
    if not ca_bundle:
        return True
    return ssl.create_default_context(cafile=ca_bundle)


async def register(client: aioacme.Client, email: str) -> str:
    """Create (or find) the account for this key; returns its URL."""
    account = await client.get_account()
    if email:
        await client.update_account(contact=[f"mailto:{email}"])
    return account.uri


async def issue(
    client: aioacme.Client,
    names: list[str],
    put_challenge: PutChallenge,
    drop_challenges: DropChallenges,
) -> Issued:
    """Order a certificate for `names`, answer HTTP-01 for each, finalize, download."""
    try:
        return await _issue(client, names, put_challenge, drop_challenges)
    except IssueError:
        raise
    except aioacme.RateLimitedError as exc:
        raise IssueError(
            f"rate limited by the CA: {exc.error.detail}", retry_at=exc.retry_after
        ) from None
    except Exception as exc:
        raise IssueError(describe_error(exc)) from None


def describe_error(exc: Exception) -> str:
    """A reason a person can act on, for the status and the log."""
    if isinstance(exc, aioacme.AcmeError):
        return f"the CA refused: {exc.error.detail} ({exc.error.type})"
    # httpx and ssl errors, timeouts: the CA is unreachable or answers garbage.
    return f"cannot reach the CA: {type(exc).__name__}: {exc}"


async def _issue(client, names, put_challenge, drop_challenges) -> Issued:
    order = await client.new_order([aioacme.Identifier(value=n) for n in names])
    tokens: list[str] = []
    try:
        pending = []
        for authz_url in order.authorizations:
            authz = await client.get_authorization(authz_url)
            if authz.status == aioacme.AuthorizationStatus.valid:
                continue  # the CA reused an earlier validation
            challenge = next(
                (c for c in authz.challenges if c.type == aioacme.ChallengeType.http01), None
            )
            if challenge is None:
                raise IssueError(f"the CA offers no HTTP-01 challenge for {authz.identifier.value}")
            # RFC 8555 §8.1; aioacme exposes the thumbprint only for its DNS-01 helper.
            key_authorization = f"{challenge.token}.{client._account_key_jwk_thumbprint}"
            await put_challenge(challenge.token, key_authorization)
            tokens.append(challenge.token)
            pending.append((authz_url, challenge))
        for _, challenge in pending:
            await client.answer_challenge(challenge.url)
        failed: dict[str, str] = {}
        for authz_url, _ in pending:
            authz = await _wait_authorization(client, authz_url)
            if authz.status != aioacme.AuthorizationStatus.valid:
                failed[authz.identifier.value] = _authz_error(authz)
        if failed:
            listed = ", ".join(f"{n}: {e}" for n, e in failed.items())
            raise IssueError(f"validation failed for {listed}", names=failed)
        key = certs.new_key()
        order = await client.finalize_order(order.finalize, certs.csr_for(key, names))
        order = await _wait_order(client, order.uri)
        if order.certificate is None:
            raise IssueError(f"the order ended as {order.status.value} without a certificate")
        chain = (await client.get_certificate(order.certificate)).decode()
        return Issued(names, chain, certs.key_to_pem(key))
    finally:
        if tokens:
            await drop_challenges(tokens)


async def _wait_authorization(client, url: str):
    deadline = time.monotonic() + ORDER_DEADLINE_SECONDS
    while True:
        authz = await client.get_authorization(url)
        if authz.status != aioacme.AuthorizationStatus.pending:
            return authz
        if time.monotonic() > deadline:
            raise IssueError(f"the CA did not validate {authz.identifier.value} in time")
        await asyncio.sleep(POLL_SECONDS)


async def _wait_order(client, url: str):
    deadline = time.monotonic() + ORDER_DEADLINE_SECONDS
    while True:
        order = await client.get_order(url)
        if order.status not in (aioacme.OrderStatus.pending, aioacme.OrderStatus.processing):
            return order
        if time.monotonic() > deadline:
            raise IssueError("the CA did not issue the certificate in time")
        await asyncio.sleep(POLL_SECONDS)


def _authz_error(authz) -> str:
    for challenge in authz.challenges:
        if challenge.error is not None:
            return challenge.error.detail
    return f"authorization {authz.status.value}"
