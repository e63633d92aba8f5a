"""Where an app's fetch allowlist and request budget live (tables of migration 014).

The allowlist of a request is the deployment's manifest.json `"net": {"allow": [...]}`
plus the operator's `allow` rows, minus whatever a `deny` row matches. Every function
takes the connection it runs on.
"""

import json
import logging
import sqlite3

from fazt.db.clock import utcnow
from fazt.runtime.netpolicy import NetError, Rule, parse_rule

log = logging.getLogger("fazt.runtime.net")

RULES = ("allow", "deny")


def list_rules(conn: sqlite3.Connection, app: str) -> list[dict]:
    rows = conn.execute(
        "SELECT host, rule, created_at FROM app_net_rules WHERE app = ? ORDER BY host", (app,)
    )
    return [dict(r) for r in rows]


def count_rules(conn: sqlite3.Connection, app: str) -> int:
    return conn.execute("SELECT COUNT(*) FROM app_net_rules WHERE app = ?", (app,)).fetchone()[0]


def set_rule(conn: sqlite3.Connection, app: str, host: str, rule: str) -> None:
    conn.execute(
        "INSERT INTO app_net_rules (app, host, rule, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (app, host) DO UPDATE SET rule = excluded.rule",
        (app, host, rule, utcnow()),
    )


def delete_rule(conn: sqlite3.Connection, app: str, host: str) -> bool:
    cur = conn.execute("DELETE FROM app_net_rules WHERE app = ? AND host = ?", (app, host))
    return cur.rowcount > 0


def manifest_allow(conn: sqlite3.Connection, app: str, deployment_id: int | None) -> list[str]:
    """The `net.allow` entries of a deployment's manifest (the live one when None)."""
    if deployment_id is None:
        row = conn.execute(
            "SELECT d.manifest FROM deployments d JOIN sites s ON d.id = s.live_deployment_id "
            "WHERE s.name = ?",
            (app,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT manifest FROM deployments WHERE id = ? AND site = ?", (deployment_id, app)
        ).fetchone()
    if row is None:
        return []
    try:
        allow = json.loads(row[0]).get("net", {}).get("allow", [])
    except (ValueError, AttributeError):
        return []
    return [a for a in allow if isinstance(a, str)]


def effective_rules(
    conn: sqlite3.Connection, app: str, deployment_id: int | None
) -> tuple[list[Rule], list[Rule]]:
    """(allow, deny) rules of a request of `app` running `deployment_id`."""
    allow: list[Rule] = []
    deny: list[Rule] = []
    texts = [(t, "allow") for t in manifest_allow(conn, app, deployment_id)]
    texts += [(r["host"], r["rule"]) for r in list_rules(conn, app)]
    for text, kind in texts:
        try:
            rule = parse_rule(text)
        except NetError:
            log.warning("app %s: ignoring the invalid net rule %r", app, text)
            continue
        (allow if kind == "allow" else deny).append(rule)
    return allow, deny


def count_call(conn: sqlite3.Connection, app: str, minute: int) -> int:
    """Count one fetch of `app` in `minute`; the count so far, this one included."""
    conn.execute("DELETE FROM app_net_usage WHERE app = ? AND minute < ?", (app, minute))
    conn.execute(
        "INSERT INTO app_net_usage (app, minute, count) VALUES (?, ?, 1) "
        "ON CONFLICT (app, minute) DO UPDATE SET count = count + 1",
        (app, minute),
    )
    return conn.execute(
        "SELECT count FROM app_net_usage WHERE app = ? AND minute = ?", (app, minute)
    ).fetchone()[0]
