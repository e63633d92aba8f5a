"""/api/domains: custom domains mapped to sites."""

import sqlite3

from fazt.api.access import check_site, owns, visible
from fazt.auth.tokens import ApiKey
from fazt.db.clock import utcnow
from fazt.hosting import deployments
from fazt.hosting.names import validate_domain
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


async def list_domains(state: ServerState, req: Request, key: ApiKey) -> Response:
    rows = await state.db.read(
        lambda c: [dict(r) for r in c.execute("SELECT * FROM domains ORDER BY domain")]
    )
    return json_response(visible(key, rows, "site"))


async def add_domain(state: ServerState, req: Request, key: ApiKey) -> Response:
    body = await req.json()
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("domain"), str)
        or not isinstance(body.get("site"), str)
    ):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"domain": "...", "site": "..."}')
    try:
        domain = validate_domain(body["domain"])
    except ValueError as exc:
        raise HTTPError(400, "INVALID_DOMAIN", str(exc)) from None
    if domain == state.domain or domain.endswith("." + state.domain):
        raise HTTPError(
            400, "INVALID_DOMAIN", f"'{domain}' is already served as part of {state.domain}"
        )
    check_site(key, body["site"].lower())
    result = await state.db.write(_insert, domain, body["site"].lower())
    if result == "no-site":
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{body['site']}'")
    if result == "taken":
        raise HTTPError(409, "CONFLICT", f"'{domain}' is already mapped")
    await state.refresh_routing()
    return json_response({"domain": domain, "site": body["site"].lower()}, 201)


def _insert(conn: sqlite3.Connection, domain: str, site: str) -> str:
    if deployments.site_row(conn, site) is None:
        return "no-site"
    if conn.execute("SELECT 1 FROM domains WHERE domain = ?", (domain,)).fetchone():
        return "taken"
    conn.execute(
        "INSERT INTO domains (domain, site, created_at) VALUES (?, ?, ?)",
        (domain, site, utcnow()),
    )
    return "ok"


def _remove(conn: sqlite3.Connection, domain: str, key: ApiKey) -> int:
    row = conn.execute("SELECT site FROM domains WHERE domain = ?", (domain,)).fetchone()
    if row is None or not owns(key, row["site"]):
        return 0
    return conn.execute("DELETE FROM domains WHERE domain = ?", (domain,)).rowcount


async def remove_domain(state: ServerState, req: Request, key: ApiKey, domain: str) -> Response:
    removed = await state.db.write(_remove, domain.lower(), key)
    if not removed:  # another site's domain looks absent to a site-limited key
        raise HTTPError(404, "DOMAIN_NOT_FOUND", f"'{domain}' is not mapped")
    await state.refresh_routing()
    return json_response({"message": "Domain removed", "domain": domain.lower()})
