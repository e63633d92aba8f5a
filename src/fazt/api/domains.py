"""/api/domains: custom domains mapped to sites."""

import sqlite3

from fazt.api.access import check_site, owns, visible
from fazt.auth.tokens import ApiKey
from fazt.db.clock import utcnow
from fazt.hosting import deployments
from fazt.hosting.names import validate_domain
from fazt.state import ServerState
from fazt.web.http import HTTPError, Request, Response, json_response


def mapped(conn: sqlite3.Connection) -> list[dict]:
    """Every custom domain with its site, by domain."""
    return [dict(r) for r in conn.execute("SELECT * FROM domains ORDER BY domain")]


async def list_domains(state: ServerState, req: Request, key: ApiKey) -> Response:
    return json_response(visible(key, await state.db.read(mapped), "site"))


async def add_domain(state: ServerState, req: Request, key: ApiKey) -> Response:
    body = await req.json()
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("domain"), str)
        or not isinstance(body.get("site"), str)
    ):
        raise HTTPError(400, "BAD_REQUEST", 'expected {"domain": "...", "site": "..."}')
    return json_response(await map_domain(state, key, body["domain"], body["site"]), 201)


async def map_domain(state: ServerState, key: ApiKey | None, domain: str, site: str) -> dict:
    """Serve `site` at `domain` too (also the dashboard's Domains form); 4xx if refused."""
    try:
        domain = validate_domain(domain)
    except ValueError as exc:
        raise HTTPError(400, "INVALID_DOMAIN", str(exc)) from None
    if domain == state.domain or domain.endswith("." + state.domain):
        raise HTTPError(
            400, "INVALID_DOMAIN", f"'{domain}' is already served as part of {state.domain}"
        )
    site = site.lower()
    check_site(key, site)
    result = await state.db.write(_insert, domain, site)
    if result == "no-site":
        raise HTTPError(404, "APP_NOT_FOUND", f"no app named '{site}'")
    if result == "taken":
        raise HTTPError(409, "CONFLICT", f"'{domain}' is already mapped")
    await state.refresh_routing()
    return {"domain": domain, "site": site}


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


async def unmap_domain(state: ServerState, key: ApiKey | None, domain: str) -> str:
    removed = await state.db.write(_remove, domain.lower(), key)
    if not removed:  # another site's domain looks absent to a site-limited key
        raise HTTPError(404, "DOMAIN_NOT_FOUND", f"'{domain}' is not mapped")
    await state.refresh_routing()
    return domain.lower()


async def remove_domain(state: ServerState, req: Request, key: ApiKey, domain: str) -> Response:
    removed = await unmap_domain(state, key, domain)
    return json_response({"message": "Domain removed", "domain": removed})
