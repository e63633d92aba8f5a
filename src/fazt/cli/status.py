"""`fazt status`: one screen about the server the CLI talks to, through its API.

Server up (version, uptime), sites, the last deploys, HTTPS, the newest backup, replication.
Whole-server facts need an admin key (`/api/system`, `/api/backups`); with a deploy key
those lines say so instead. No network beyond the server: whether a newer release exists
is `fazt upgrade --check`'s question.
"""

from datetime import UTC, datetime

import click

from fazt.cli.common import api_client, console, duration, fail, print_json, remote_options
from fazt.db import clock
from fazt.remote.client import ApiError, FaztClient

LAST_DEPLOYS = 3
ADMIN_ONLY = "needs an admin key"


@click.command()
@remote_options
def status(url: str | None, token: str | None, as_json: bool) -> None:
    """One screen: is the server up, its sites, last deploys, HTTPS, backups, replication."""
    with api_client(url, token) as client:
        info = gather(client)
    if as_json:
        print_json(info)
    else:
        show(info)
    if not info["up"]:
        fail(info["error"])


def gather(client: FaztClient) -> dict:
    """Everything `fazt status` shows, as JSON-ready data."""
    info: dict = {"url": client.url, "up": False}
    try:
        health, _ = client.health()
    except ApiError as exc:
        return {**info, "error": str(exc) + exc.next_step("--token")}
    info.update(up=True, version=health.get("version"), uptime_seconds=health.get("uptime_seconds"))
    apps = client.get("/api/apps")  # a refused token ends here, with its next step
    system_sites = {a["name"] for a in apps if a.get("kind") == "system"}
    info["sites"] = len(apps) - len(system_sites)
    system = _admin_only(client, "/api/system")
    backups = _admin_only(client, "/api/backups")
    info["admin"] = system is not None
    if system is None:  # a deploy key: the newest deploys its sites show
        live = sorted(
            (a for a in apps if a.get("last_deploy_at") and a.get("kind") != "system"),
            key=lambda a: a["last_deploy_at"],
            reverse=True,
        )
        info["last_deploys"] = [
            {"site": a["name"], "at": a["last_deploy_at"]} for a in live[:LAST_DEPLOYS]
        ]
    else:
        info["last_deploys"] = [
            {"site": d["site"], "id": d["id"], "at": d["finalized_at"]}
            for d in system["recent_deploys"]
            if d["site"] not in system_sites  # seeded at start, not the user's deploys
        ][:LAST_DEPLOYS]
    info["dashboard_url"] = system["dashboard_url"] if system else client.url
    info["https"] = system["https"] if system else None
    info["replication"] = system.get("replication") if system else None
    info["last_backup"] = _newest(backups) if backups is not None else None
    info["backups"] = None if backups is None else len(backups)
    return info


def _admin_only(client: FaztClient, path: str):
    """GET `path`, or None when the key may not (403: a deploy key)."""
    try:
        return client.get(path)
    except ApiError as exc:
        if exc.status == 403:
            return None
        raise


def _newest(backups: list[dict]) -> dict | None:
    dated = [b for b in backups if b.get("created_at")]
    if not dated:
        return None
    newest = max(dated, key=lambda b: b["created_at"])
    return {"file": newest.get("file"), "at": newest["created_at"]}


def show(info: dict) -> None:
    console.print("[bold]fazt status[/bold]")
    if not info["up"]:
        _line("Server", f"down ({info['url']})")
        return
    admin = info["admin"]
    for label, value in [
        ("Server", f"up, fazt {info['version']}, for {duration(info['uptime_seconds'])}"),
        ("URL", info["url"]),
        ("Dashboard", info["dashboard_url"]),
        ("Sites", f"{info['sites']} (`fazt app list`)"),
        ("Last deploys", _deploys(info["last_deploys"])),
        ("HTTPS", _https(info["https"]) if admin else ADMIN_ONLY),
        ("Last backup", _backup(info) if admin else ADMIN_ONLY),
        ("Replication", _replication(info["replication"]) if admin else ADMIN_ONLY),
        ("Upgrades", "`fazt upgrade --check` asks the release index"),
    ]:
        _line(label, value)


def _line(label: str, value: str) -> None:
    console.print(f"  {label + ':':14} {value}", highlight=False, markup=False)


def _deploys(deploys: list[dict]) -> str:
    if not deploys:
        return "none yet (`fazt deploy DIR`)"
    return ", ".join(f"{d['site']} ({_ago(d['at'])})" for d in deploys)


def _https(https: dict | None) -> str:
    if not https or not https.get("enabled"):
        return "off (`fazt server start --https --domain D --email E`)"
    cert = https.get("certificate")
    if not cert:
        return "on, no certificate yet"
    return f"on, certificate for {cert['names']} until {str(cert['not_after'])[:10]}"


def _backup(info: dict) -> str:
    last = info["last_backup"]
    if last is None:
        return "none yet (`fazt backup create`, `fazt backup schedule --every 24h`)"
    return f"{_ago(last['at'])} ({last['file']}; {info['backups']} kept)"


def _replication(rep: dict | None) -> str:
    if not rep or not rep.get("enabled"):
        return "off (`fazt replicate enable --replica URL`)"
    state = "running" if rep.get("running") else "NOT running"
    if rep.get("down_since"):
        state += f", replica DOWN since {rep['down_since']}"
    lag = rep.get("lag_seconds")
    error = f", last error: {rep['last_error']}" if rep.get("last_error") else ""
    return f"to {rep['url']}, {state}" + (f", lag {lag:g}s" if lag is not None else "") + error


def _ago(text: str | None) -> str:
    """'3m 2s ago' for a stored timestamp (the text itself if it is not one)."""
    if not text:
        return "?"
    try:
        moment = clock.parse(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    return f"{duration(max(seconds, 0))} ago"
