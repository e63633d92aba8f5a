"""`/ws` on a site host: a broadcast channel per site.

Every message a client sends goes to every client of the site, the sender included, as
fazt v0.9 did (chat pages written for it show your own message when it comes back); a
site whose manifest.json says `"realtime": {"echo": false}` gets it to the *other*
clients only. Limits keep one site
from hurting the server: connections per site, message size, an idle timeout, and a
bounded outgoing queue per client (a client too slow to keep up loses messages rather
than slowing everyone else).

Message rates are token buckets, one per connection and one per client address (all its
connections together). A client over either is closed (1008, policy violation), with a
logged warning, rather than having messages dropped: a flooding client then stops
costing anything, and a real app sees the close (onclose) instead of losing messages
silently.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from granian.rsgi import ProtocolClosed, ProtocolError, WebsocketMessageType

from fazt.auth.ratelimit import TokenBuckets
from fazt.db import Database, settings
from fazt.hosting.manifest import InvalidManifest, parse
from fazt.hosting.routing import normalise_host

log = logging.getLogger("fazt.realtime")

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_IDLE = 4000  # application range: closed for inactivity
# Granian's RSGI close(status) sets the status of a refused handshake only: on an accepted
# socket it closes the sink, which sends a close frame without a code (the client sees
# 1005), and the transport has no call that sends one. So these codes are what we mean,
# not what the client receives (measured in tests/integration/test_realtime_v09.py).


@dataclass(frozen=True)
class Limits:
    connections_per_site: int = 100
    message_bytes: int = 64 * 1024
    idle_seconds: float = 300.0
    queue_messages: int = 256
    messages_per_second: float = 20.0  # per connection; 0 is no limit
    messages_burst: float = 40.0
    address_messages_per_second: float = 100.0  # per client address
    address_messages_burst: float = 200.0

    @classmethod
    def from_settings(cls, values: dict[str, str]) -> "Limits":
        """Settings ws_max_connections_per_site, ws_idle_seconds and the ws_*messages_*
        rates (bad values: defaults; a rate of 0 turns it off)."""

        def num(key: str, default: float, zero: bool = False) -> float:
            try:
                value = float(values.get(key, default))
            except (TypeError, ValueError):
                return default
            return value if value > 0 or (zero and value == 0) else default

        base = cls()
        return cls(
            connections_per_site=int(num("ws_max_connections_per_site", base.connections_per_site)),
            idle_seconds=num("ws_idle_seconds", base.idle_seconds),
            messages_per_second=num("ws_messages_per_second", base.messages_per_second, True),
            messages_burst=num("ws_messages_burst", base.messages_burst),
            address_messages_per_second=num(
                "ws_address_messages_per_second", base.address_messages_per_second, True
            ),
            address_messages_burst=num("ws_address_messages_burst", base.address_messages_burst),
        )


class Client:
    def __init__(
        self, transport: Any, queue_size: int, address: str | None = None, echo: bool = True
    ) -> None:
        self.transport = transport
        self.address = address  # None: exempt from the per-address rate (fazt.server.edge)
        self.echo = echo  # its own messages come back to it (the site's manifest.json)
        self.queue: asyncio.Queue = asyncio.Queue(queue_size)
        self.dropped = 0

    def offer(self, message: str | bytes) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1

    async def pump(self) -> None:
        """Send queued messages until the connection closes."""
        while True:
            message = await self.queue.get()
            if isinstance(message, str):
                await self.transport.send_str(message)
            else:
                await self.transport.send_bytes(message)


EchoLookup = Callable[[str, int], Awaitable[bool]]


class Hub:
    def __init__(self, limits: Limits | None = None, echo_of: EchoLookup | None = None) -> None:
        self.limits = limits or Limits()
        self.echo_of = echo_of  # (site, deployment id) -> echo? None: always echo
        self.sites: dict[str, set[Client]] = {}
        limits = self.limits
        # Per connection: forgotten when it closes, so no cap is needed. Per address: the
        # table is capped (and swept) by TokenBuckets.
        self.connection_rate = None
        if limits.messages_per_second > 0:
            self.connection_rate = TokenBuckets(
                limits.messages_per_second, limits.messages_burst, max_keys=1 << 30
            )
        self.address_rate = None
        if limits.address_messages_per_second > 0:
            self.address_rate = TokenBuckets(
                limits.address_messages_per_second, limits.address_messages_burst
            )

    @classmethod
    def from_db(cls, db: Database) -> "Hub":
        """A hub with the limits of the server's settings."""
        limits = Limits.from_settings(db.read_sync(settings.all_settings))

        async def echo_of(site: str, deployment_id: int) -> bool:
            return await db.read(site_echo, deployment_id)

        return cls(limits, echo_of)

    def publish_channel(self, site: str, channel: str, message_json: str) -> int:
        """fazt.realtime.publish from the site's JavaScript: every client of the site gets
        the text {"channel": ..., "data": ...}; too big a message is dropped."""
        text = f'{{"channel":{json.dumps(channel)},"data":{message_json}}}'
        if len(text.encode("utf-8", "replace")) > self.limits.message_bytes:
            log.warning(
                "%s: realtime message on %r over %d bytes dropped",
                site,
                channel,
                self.limits.message_bytes,
            )
            return 0
        return self.publish(site, text)

    def broadcast(self, site: str, text: str) -> int:
        """socket.broadcast from a root main.js (v0.9): every client of the site gets the
        text as it is; too big a message is dropped."""
        if len(text.encode("utf-8", "replace")) > self.limits.message_bytes:
            log.warning(
                "%s: socket.broadcast over %d bytes dropped", site, self.limits.message_bytes
            )
            return 0
        return self.publish(site, text)

    def count(self, site: str) -> int:
        return len(self.sites.get(site, ()))

    def publish(self, site: str, message: str | bytes, sender: Client | None = None) -> int:
        """Queue a message for every client of the site (the sender too if it echoes)."""
        receivers = [c for c in self.sites.get(site, ()) if c is not sender or sender.echo]
        for client in receivers:
            client.offer(message)
        return len(receivers)

    async def serve(
        self,
        site: str,
        proto: Any,
        host: str | None,
        origin: str | None,
        address: str | None = None,
        deployment_id: int | None = None,
    ) -> None:
        if origin is not None and not same_origin_host(origin, host):
            proto.close(403)
            return
        if self.count(site) >= self.limits.connections_per_site:
            proto.close(503)
            return
        echo = True
        if self.echo_of is not None and deployment_id is not None:
            echo = await self.echo_of(site, deployment_id)
        transport = await proto.accept()
        client = Client(transport, self.limits.queue_messages, address, echo)
        self.sites.setdefault(site, set()).add(client)
        pump = asyncio.ensure_future(client.pump())
        code = CLOSE_NORMAL
        try:
            code = await self._receive(site, client)
        except (ProtocolClosed, ProtocolError):
            pass
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ProtocolClosed, ProtocolError):
                await pump
            if self.connection_rate is not None:
                self.connection_rate.forget(client)
            clients = self.sites.get(site)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self.sites[site]
            proto.close(code)

    async def _receive(self, site: str, client: Client) -> int:
        limits = self.limits
        while True:
            try:
                # Await receive() in this task: wrapped in another task (asyncio.wait_for),
                # a connection Granian failed for a protocol error (bad frame, invalid
                # UTF-8) was never closed, leaking its socket in CLOSE-WAIT.
                async with asyncio.timeout(limits.idle_seconds):
                    message = await client.transport.receive()
            except TimeoutError:
                return CLOSE_IDLE
            if message.kind == WebsocketMessageType.close:
                return CLOSE_NORMAL
            if len(message.data) > limits.message_bytes:
                return CLOSE_TOO_BIG
            if self._over_rate(client):
                log.warning("%s: /ws client %s over the message rate: closed", site, client.address)
                return CLOSE_POLICY
            self.publish(site, message.data, sender=client)

    def _over_rate(self, client: Client) -> bool:
        """Take a token from the connection's and the address's buckets."""
        if self.connection_rate is not None and self.connection_rate.take(client):
            return True
        address = client.address
        return (
            address is not None
            and self.address_rate is not None
            and self.address_rate.take(address) > 0
        )


def site_echo(conn: Any, deployment_id: int) -> bool:
    """Whether the deployment's manifest.json lets /ws messages come back to the sender."""
    row = conn.execute("SELECT manifest FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
    try:
        return parse(row[0] if row else None).realtime_echo
    except InvalidManifest:
        return True


def same_origin_host(origin: str, host: str | None) -> bool:
    """The Origin's host (port ignored) is exactly the request's host: no substring games."""
    try:
        origin_host = normalise_host(urlsplit(origin).netloc)
    except ValueError:
        return False
    return origin_host is not None and origin_host == normalise_host(host)
