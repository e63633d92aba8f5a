"""The client's IP address: the socket peer, or what a trusted reverse proxy says it is."""

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def parse_trusted(text: str) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16' -> networks; raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def is_trusted(ip: str, trusted: tuple[Network, ...]) -> bool:
    if not trusted:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in trusted)


def client_ip(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """X-Forwarded-For counts only when the peer is a trusted proxy; then the client is
    the right-most address that is not itself a trusted proxy (anything left of it could
    have been written by the client)."""
    if not forwarded_for or not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def scheme(tls: bool, forwarded_proto: str | None, peer: str, trusted: tuple[Network, ...]) -> str:
    """'https' when the request came over TLS, here or (X-Forwarded-Proto) at a trusted proxy."""
    if tls:
        return "https"
    forwarded = (forwarded_proto or "").strip().lower()
    if forwarded == "https" and is_trusted(peer, trusted):
        return "https"
    return "http"
