"""Keep one certificate covering every name fazt serves: issue, re-issue, renew, reload.

Runs as a task in each worker. Every second it compares the names fazt serves with the
names of the stored certificate and (re-)issues when they differ (after a short debounce,
so a burst of deploys makes one order), when there is none, or when two thirds of its
lifetime have passed. A new certificate is loaded by a zero-downtime handover: the
supervisor starts a fresh worker (`handover.request_reload`), or, when fazt runs without
one, this worker swaps its own TLS listener. Failures back off exponentially and are
recorded with their reason; the certificate already served keeps being served.
"""

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aioacme

from fazt.db import Database
from fazt.https import acme, certs, store
from fazt.https.config import HttpsConfig
from fazt.https.listeners import HttpsListeners
from fazt.https.names import WantedNames, wanted_names
from fazt.periodic import cancel_and_wait, periodic
from fazt.web import handover

log = logging.getLogger("fazt")
POLL_SECONDS = 1.0
RELOAD_RETRY_SECONDS = 60.0  # ask the supervisor again if no fresh worker took over


@dataclass
class Snapshot:
    wanted: WantedNames
    cert: store.StoredCertificate | None
    status: dict
    failures: dict[str, dict]


def _snapshot(conn, domain: str) -> Snapshot:
    return Snapshot(
        wanted_names(conn, domain),
        store.current_certificate(conn),
        store.status(conn),
        store.name_failures(conn),
    )


class CertificateManager:
    def __init__(self, db: Database, cfg: HttpsConfig, listeners: HttpsListeners) -> None:
        self.db = db
        self.cfg = cfg
        self.listeners = listeners
        listeners.covered = lambda host: host in self.served_names
        self.owner = f"{os.getpid()}-{id(self)}"
        self.served: store.StoredCertificate | None = None
        self.served_names: frozenset[str] = frozenset()
        self._reload_requested: tuple[int, float] | None = None  # (certificate id, when)
        self._changed_since: float | None = None
        self._task: asyncio.Task | None = None

    # -- start and stop -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the listeners with the stored certificate (or a placeholder), then manage."""
        cert = await self.db.read(store.current_certificate)
        if cert is not None and cert.not_after > datetime.now(UTC):
            await self.listeners.start(cert.cert_pem, cert.key_pem)
            self._serving(cert)
        else:
            wanted = await self.db.read(wanted_names, self.cfg.domain)
            await self.listeners.start(*certs.self_signed(wanted.covered))
        job = periodic(POLL_SECONDS, self.step, "certificate management step", now=True)
        self._task = asyncio.ensure_future(job)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        with contextlib.suppress(Exception):  # the database may already be closing
            await self.db.write(store.release_lease, self.owner)
        await self.listeners.stop()

    def _serving(self, cert: store.StoredCertificate) -> None:
        self.served = cert
        self.served_names = frozenset(cert.names)

    def certificate_state(self, host: str) -> str:
        """ "ready" when the served certificate covers the name, else "pending"."""
        return "ready" if host.lower() in self.served_names else "pending"

    # -- the loop -------------------------------------------------------------------------

    async def step(self) -> None:
        snap = await self.db.read(_snapshot, self.cfg.domain)
        now = datetime.now(UTC)
        cert = snap.cert
        fresh = cert is not None and cert.not_after > now
        if fresh and (self.served is None or cert.id != self.served.id):
            await self._load(cert)  # stored by another worker, or a reload that failed
        names = [
            n
            for n in snap.wanted.covered
            if n not in snap.failures
            or store.parse_time(snap.failures[n]["next_attempt_at"]) <= now
        ]
        reason = self._reason(cert, names, now)
        if reason is None or not names:
            return
        retry_at = store.parse_time(snap.status["next_attempt_at"])
        if retry_at is not None and retry_at > now:
            return  # backing off after a failure
        if not await self.db.write(store.acquire_lease, self.owner):
            return  # another worker (during a handover) is ordering
        try:
            await self._issue(names, reason)
        finally:
            await self.db.write(store.release_lease, self.owner)

    def _reason(self, cert, names: list[str], now: datetime) -> str | None:
        """Why a new certificate is needed now, or None."""
        if cert is None:
            return "no certificate yet"
        if set(names) != set(cert.names):
            # Debounced: a burst of deploys or domain changes makes one order.
            if self._changed_since is None:
                self._changed_since = time.monotonic()
            if time.monotonic() - self._changed_since >= self.cfg.debounce_seconds:
                return "the names served changed"
            return None
        self._changed_since = None
        if now >= certs.CertInfo(cert.names, cert.not_before, cert.not_after, 0).renewal_due():
            return "renewal due"
        return None

    async def _issue(self, names: list[str], reason: str) -> None:
        log.info("requesting a certificate for %d names (%s)", len(names), reason)
        try:
            issued = await self._order(names)
        except acme.IssueError as exc:
            if exc.names:
                # Leave the failing names out (they retry on their own schedule) and order
                # again at the next step for the others.
                await self.db.write(
                    store.record_name_failures, exc.names, self.cfg.retry_base_seconds
                )
            else:
                await self.db.write(
                    store.record_failure, str(exc), self.cfg.retry_base_seconds, exc.retry_at
                )
            log.warning("certificate request failed: %s", exc)
            return
        info = certs.inspect(issued.cert_pem)
        await self.db.write(
            store.save_certificate,
            issued.names,
            issued.cert_pem,
            issued.key_pem,
            info.not_before,
            info.not_after,
            self.cfg.directory,
        )
        self._changed_since = None
        log.info("certificate issued for %d names, valid until %s", len(names), info.not_after)
        cert = await self.db.read(store.current_certificate)
        await self._load(cert)

    async def _order(self, names: list[str]) -> acme.Issued:
        account = await self.db.read(store.account, self.cfg.directory)
        key_pem, uri = account if account else (certs.key_to_pem(certs.new_key()), None)
        client = aioacme.Client(
            account_key=certs.key_from_pem(key_pem),
            directory_url=self.cfg.directory,
            account_uri=uri,
            ssl=acme.client_ssl(self.cfg.ca_bundle),
        )
        try:
            if uri is None:
                try:
                    uri = await acme.register(client, self.cfg.email)
                except Exception as exc:
                    raise acme.IssueError(acme.describe_error(exc)) from None
                await self.db.write(store.save_account, self.cfg.directory, key_pem, uri)
            return await acme.issue(client, names, self._put_challenge, self._drop_challenges)
        finally:
            await client.close()

    async def _put_challenge(self, token: str, key_authorization: str) -> None:
        await self.db.write(store.put_challenge, token, key_authorization)

    async def _drop_challenges(self, tokens: list[str]) -> None:
        await self.db.write(store.delete_challenges, tokens)

    async def _load(self, cert: store.StoredCertificate) -> None:
        """Serve `cert`: ask the supervisor for a fresh worker, or swap our TLS listener."""
        if self._reload_requested is not None:
            requested_id, when = self._reload_requested
            if requested_id == cert.id and time.monotonic() - when < RELOAD_RETRY_SECONDS:
                return  # a fresh worker is starting; this one is about to be retired
        if handover.request_reload("new TLS certificate"):
            self._reload_requested = (cert.id, time.monotonic())
            log.info("new certificate stored; handing over to a fresh worker")
            return
        await self.listeners.swap(cert.cert_pem, cert.key_pem)
        self._serving(cert)
        log.info("now serving the new certificate")
