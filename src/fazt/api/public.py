"""The public endpoints: analytics beacons, short links, inbound webhooks. None needs a
token; none sets a cookie. Their routes are declared in fazt.server.routes.

On every user site (same origin as its pages, so no CORS):
    GET  /_fazt/t.js        the tracking script
    POST /_fazt/track       a beacon from it: {"p": path, "r": referrer, "n": event name}
    GET  /_fazt/pixel.gif   a 1x1 GIF that counts a hit for this site

On the dashboard host (compatible with fazt 0.9):
    POST /track             a beacon; the site is "d" (site or host), "h" or the Referer
    GET  /pixel.gif         ?site=&path=&source= (the site also from the Referer)
    GET  /r/<slug>          302 to the redirect's URL, counting a click
    POST /webhook/<name>    an inbound webhook, verified by HMAC-SHA256
"""

import json
import time
from typing import Any
from urllib.parse import urlsplit

from fazt.analytics import redirects, script, useragent, webhooks
from fazt.analytics.store import Event
from fazt.auth import clientip
from fazt.auth.ratelimit import retry_after_header
from fazt.db import settings
from fazt.hosting import routing
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response

TRACK_MAX_BYTES = 8 * 1024
WEBHOOK_MAX_BYTES = 256 * 1024
MAX_FIELD = 500
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)
NO_STORE = [
    ("cache-control", "no-cache, no-store, must-revalidate"),
    ("pragma", "no-cache"),
    ("expires", "0"),
]


# -- on every user site (the route table in fazt.server.routes passes `site`) ----------------


async def tracking_script(state: ServerState, req: Request, site: str) -> Response:
    if req.header("if-none-match") == script.ETAG:
        return Response(304, None, [("etag", script.ETAG)])
    return Response(200, script.SOURCE, list(script.HEADERS))


async def site_beacon(state: ServerState, req: Request, site: str) -> Response:
    await _limit_beacons(state, req)
    body = await _beacon(req)
    await _record(state, req, site, _host(req.host), body)
    return Response(204, None)


async def site_pixel(state: ServerState, req: Request, site: str) -> Response:
    await _pixel(state, req, site)
    return _gif()


# -- on the dashboard host ------------------------------------------------------------------


async def beacon_preflight(state: ServerState, req: Request) -> Response:
    """A fetch() with a JSON content type asks first."""
    return Response(204, None, _cors([("access-control-max-age", "86400")]))


async def beacon(state: ServerState, req: Request) -> Response:
    """A beacon naming its site: "d" (site or host), "h" or the Referer."""
    await _limit_beacons(state, req)
    body = await _beacon(req)
    host = _text(body, "d") or _text(body, "h") or _host_of(req.header("referer"))
    page_host = _text(body, "h") or host
    await _record(state, req, _site_for(state, host), _host(page_host), body)
    return Response(204, None, _cors([]))


async def pixel(state: ServerState, req: Request) -> Response:
    q = req.query
    site = q.get("site") or q.get("domain") or _host_of(req.header("referer"))
    await _pixel(state, req, _site_for(state, site))
    return _gif()


# -- tracking ---------------------------------------------------------------------------------


async def _limit_beacons(state: ServerState, req: Request) -> None:
    """429 with Retry-After when the client address sends beacons faster than the
    track_per_second / track_burst settings (fazt.server.edge); nothing is stored."""
    edge = state.edge
    if edge is None or edge.track is None:
        return
    wait = edge.track_wait(await _client_ip(state, req))
    if wait:
        raise HTTPError(
            429,
            "RATE_LIMITED",
            "too many tracking beacons from your address",
            [("retry-after", retry_after_header(wait))],
        )


async def _beacon(req: Request) -> dict[str, Any]:
    """The beacon's JSON object. Any content type: sendBeacon sends text/plain."""
    raw = await req.body(TRACK_MAX_BYTES)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPError(400, "INVALID_JSON", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "INVALID_JSON", "expected a JSON object")
    for key in ("p", "r", "ref", "n", "e", "d", "h"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise HTTPError(400, "BAD_REQUEST", f"'{key}' must be a string")
    return body


async def _record(
    state: ServerState, req: Request, site: str, page_host: str, body: dict[str, Any]
) -> None:
    name = _text(body, "n") or _text(body, "e")
    kind = "pageview" if name in ("", "pageview") else "event"
    referrer = _text(body, "r") or _text(body, "ref")
    await _count(
        state,
        req,
        site,
        kind,
        "" if kind == "pageview" else name,
        _path(_text(body, "p")),
        _referrer_host(referrer, page_host),
    )


async def _pixel(state: ServerState, req: Request, site: str) -> None:
    q = req.query
    referrer = _referrer_host(req.header("referer") or "", "")
    source = (q.get("source") or q.get("name") or "")[:100]
    await _count(state, req, site, "pixel", source, _path(q.get("path")), referrer)


async def _count(
    state: ServerState, req: Request, site: str, kind: str, name: str, path: str, referrer: str
) -> None:
    """Buffer one hit, unless the visitor asked not to be tracked or is a robot."""
    if _opted_out(req) or state.db.read_only is not None:  # a standby counts nothing
        return
    ua = req.header("user-agent") or ""
    browser, system, device = useragent.parse(ua[:MAX_FIELD])
    if browser == useragent.BOT:
        return
    analytics = state.analytics
    visitor = await analytics.visitor(site, await _client_ip(state, req), ua)
    analytics.add(
        Event(int(time.time()), site, kind, name, path, referrer, browser, system, device, visitor)
    )


def _opted_out(req: Request) -> bool:
    """Do-Not-Track or Global Privacy Control: such visits are not counted at all."""
    return req.header("dnt") == "1" or req.header("sec-gpc") == "1"


async def _client_ip(state: ServerState, req: Request) -> str:
    # Behind a trusted reverse proxy every request comes from the proxy: without its
    # X-Forwarded-For all visitors would hash alike. The setting is read once.
    analytics = state.analytics
    if analytics.trusted_proxies is None:
        value = await state.db.read(settings.get, "trusted_proxies")
        try:
            analytics.trusted_proxies = clientip.parse_trusted(value)
        except ValueError:  # a bad setting must not let clients choose their IP
            analytics.trusted_proxies = ()
    trusted = analytics.trusted_proxies
    return clientip.client_ip(req.client_ip, req.header("x-forwarded-for"), trusted)


# -- redirects and webhooks -------------------------------------------------------------------


async def redirect(state: ServerState, req: Request, slug: str) -> Response:
    """302 to the short link's URL, counting a click."""
    url = await state.db.read(redirects.target, slug) if slug else None
    if url is None:
        raise HTTPError(404, "REDIRECT_NOT_FOUND", f"no redirect '{slug}'")
    # The click counter is a plain number (no visitor data): every click counts.
    state.analytics.click(slug)
    referrer = _referrer_host(req.header("referer") or "", "")
    await _count(state, req, "", "redirect", slug, "", referrer)
    return Response(302, b"", [("location", url), ("cache-control", "no-store")])


async def webhook(state: ServerState, req: Request, name: str) -> Response:
    """An inbound webhook, stored as an event; verified when it has a secret."""
    found = await state.db.read(webhooks.find, name) if name else None
    if found is None:
        raise HTTPError(404, "WEBHOOK_NOT_FOUND", f"no webhook '{name}'")
    webhook_id, secret, legacy = found
    body = await req.body(WEBHOOK_MAX_BYTES)
    if secret is not None:
        signature = next((v for h in webhooks.SIGNATURE_HEADERS if (v := req.header(h))), None)
        v09 = req.header(webhooks.V09_SIGNATURE_HEADER) if legacy else None
        if signature is None and v09 is not None:
            webhooks.verify_v09(secret, body, v09)  # or SignatureError
        elif signature is None:
            raise HTTPError(
                401,
                "MISSING_SIGNATURE",
                'sign the body: X-Fazt-Signature: t=<unix>,v1=<hmac hex of "<t>.<body>">',
            )
        else:
            webhooks.check_signature(secret, body, signature, webhook_id)  # or SignatureError
    headers = {h: v[:MAX_FIELD] for h in webhooks.KEPT_HEADERS if (v := req.header(h))}
    payload = body.decode("utf-8", errors="replace")
    event = webhooks.event_name(payload, headers)
    event_id = await state.db.write(
        webhooks.store_event, webhook_id, secret is not None, event, headers, payload
    )
    return json_response(
        {"id": event_id, "webhook": name, "verified": secret is not None, "event": event}
    )


# -- helpers ----------------------------------------------------------------------------------


def _gif() -> Response:
    return Response(200, PIXEL, [("content-type", "image/gif"), *NO_STORE])


def _cors(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "POST"),
        ("access-control-allow-headers", "content-type"),
        *headers,
    ]


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _path(value: str | None) -> str:
    path = (value or "/").strip()[:MAX_FIELD]
    return path if path.startswith("/") else "/" + path


def _host(raw: str) -> str:
    return routing.normalise_host(raw) or ""


def _host_of(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url.strip()).hostname or "")[:253]
    except ValueError:
        return ""


def _referrer_host(referrer: str, page_host: str) -> str:
    """The referring host; "" when there is none or it is the page's own host."""
    host = _host_of(referrer) if "//" in referrer else _host(referrer.split("/", 1)[0])
    host = host.removeprefix("www.") if host.startswith("www.") else host
    own = page_host.removeprefix("www.")
    return "" if not host or host == own else host


def _site_for(state: ServerState, value: str) -> str:
    """A site name, or a host fazt serves -> its site; another host as itself."""
    if not value:
        return "unknown"
    name = value.lower()
    if name in state.routing.live:
        return name
    host = routing.normalise_host(name.split("/", 1)[0])
    if host is None:
        return "unknown"
    target = state.routing.resolve(host)
    return target.site if target.kind == routing.SITE and target.site else host
