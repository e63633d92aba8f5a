"""`fazt app ...`: list, inspect, roll back, promote and delete deployed sites; their
serverless env vars and logs."""

import json
import sys

import click

from fazt.cli.common import (
    api_client,
    console,
    human_size,
    print_json,
    print_table,
    remote_options,
)
from fazt.cli.create import create
from fazt.cli.jobs import jobs
from fazt.cli.users import users


@click.group()
def app() -> None:
    """Manage deployed apps (sites)."""


app.add_command(create)
app.add_command(jobs)
app.add_command(users)


@app.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Also list the system sites (root, 404, admin)."
)
@remote_options
def list_apps(show_all, url, token, as_json) -> None:
    """List apps with their live URL, size and last deploy."""
    with api_client(url, token) as client:
        apps = client.get("/api/apps")
    if not show_all:  # the API lists every site with its kind; the user's are what matter
        apps = [a for a in apps if a.get("kind") != "system"]
    if as_json:
        print_json(apps)
        return
    rows = [{**a, "size": human_size(a["size_bytes"]), "files": a["file_count"]} for a in apps]
    print_table(rows, ["name", "kind", "url", "files", "size", "last_deploy_at"])


@app.command()
@click.argument("name")
@remote_options
def info(name, url, token, as_json) -> None:
    """Show an app's live deployment."""
    with api_client(url, token) as client:
        data = client.get(f"/api/apps/{name}")
    if as_json:
        print_json(data)
        return
    live = data["live_deployment"] or {}
    for label, value in [
        ("Name", data["name"]),
        ("Kind", data["kind"]),
        ("URL", data["url"] or "(not live)"),
        ("Deployment", live.get("id")),
        ("Files", data["file_count"]),
        ("Size", human_size(data["size_bytes"])),
        ("Deployed by", live.get("deployed_by")),
        ("Last deploy", data["last_deploy_at"]),
    ]:
        console.print(f"{label + ':':13} {value}", highlight=False)


@app.command()
@click.argument("name")
@remote_options
def history(name, url, token, as_json) -> None:
    """List an app's deployments, newest first."""
    with api_client(url, token) as client:
        deps = client.get(f"/api/apps/{name}/deployments")
    if as_json:
        print_json(deps)
        return
    rows = [
        {
            **d,
            "live": "*" if d["live"] else "",
            "size": human_size(d["size_bytes"]),
            "files": d["file_count"],
        }
        for d in deps
    ]
    print_table(rows, ["id", "live", "files", "size", "deployed_by", "finalized_at", "url"])


@app.command()
@click.argument("name")
@click.argument("state", type=click.Choice(["on", "off"]))
@remote_options
def previews(name, state, url, token, as_json) -> None:
    """Turn an app's deployment URLs (<name>--<preview id>) on or off."""
    with api_client(url, token) as client:
        site = client.request("PATCH", f"/api/apps/{name}", json={"previews": state == "on"})
    if as_json:
        print_json(site)
    else:
        word = "on" if site["previews"] else "off"
        click.echo(f"Deployment URLs for '{name}' are {word}")


@app.command()
@click.argument("name")
@click.argument("deployment_id", type=int, required=False)
@remote_options
def rollback(name, deployment_id, url, token, as_json) -> None:
    """Make the previous (or the given) deployment live again."""
    body = {"deployment_id": deployment_id} if deployment_id is not None else {}
    with api_client(url, token) as client:
        dep = client.post(f"/api/apps/{name}/rollback", json=body)
    if as_json:
        print_json(dep)
    else:
        click.echo(f"'{name}' now serves deployment {dep['id']}")


@app.command()
@click.argument("name")
@click.argument("deployment_id", type=int)
@remote_options
def promote(name, deployment_id, url, token, as_json) -> None:
    """Make a preview deployment live."""
    with api_client(url, token) as client:
        dep = client.post(f"/api/apps/{name}/promote", json={"deployment_id": deployment_id})
    if as_json:
        print_json(dep)
    else:
        click.echo(f"'{name}' now serves deployment {dep['id']}")


@app.command()
@click.argument("name")
@click.option("--deployment", type=int, default=None, help="A deployment id (default: live).")
@remote_options
def files(name, deployment, url, token, as_json) -> None:
    """List the files of an app's live (or given) deployment."""
    params = {"deployment": deployment} if deployment is not None else {}
    with api_client(url, token) as client:
        listing = client.get(f"/api/apps/{name}/files", params=params)
    if as_json:
        print_json(listing)
        return
    rows = [{**f, "size": human_size(f["size"])} for f in listing]
    print_table(rows, ["path", "size", "mime"])


@app.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@remote_options
def delete(name, yes, url, token, as_json) -> None:
    """Delete an app, its deployments and its files."""
    if not yes:
        click.confirm(f"Delete '{name}' and all its deployments?", abort=True)
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/apps/{name}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"Deleted '{result['name']}'")


# -- serverless: env vars and logs --------------------------------------------------------


@app.group()
def env() -> None:
    """Environment variables of an app's JavaScript (fazt.env); values are never shown."""


@env.command("set")
@click.argument("name")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option(
    "--secret",
    is_flag=True,
    help="Keep the values out of JavaScript: only fazt.secret() in fazt.net.fetch uses them.",
)
@remote_options
def env_set(name, assignments, secret, url, token, as_json) -> None:
    """Set one or more env vars: fazt app env set blog API_KEY=abc MODE=prod."""
    pairs = []
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="KEY=VALUE")
        pairs.append((key, value))
    results = []
    with api_client(url, token) as client:
        for key, value in pairs:
            results.append(
                client.request(
                    "PUT", f"/api/apps/{name}/env/{key}", json={"value": value, "secret": secret}
                )
            )
    if as_json:
        print_json(results)
        return
    for result in results:  # the value is never echoed
        click.echo(f"{result['name']} {result['status']} for '{result['app']}'")


@env.command("list")
@click.argument("name")
@remote_options
def env_list(name, url, token, as_json) -> None:
    """List an app's env var names (values stay on the server)."""
    with api_client(url, token) as client:
        names = client.get(f"/api/apps/{name}/env")
    if as_json:
        print_json(names)
        return
    print_table(names, ["name", "secret", "updated_at"])


@env.command("unset")
@click.argument("name")
@click.argument("keys", nargs=-1, required=True)
@remote_options
def env_unset(name, keys, url, token, as_json) -> None:
    """Remove env vars from an app."""
    with api_client(url, token) as client:
        results = [client.request("DELETE", f"/api/apps/{name}/env/{key}") for key in keys]
    if as_json:
        print_json(results)
        return
    for result in results:
        click.echo(f"{result['name']} deleted from '{result['app']}'")


# -- serverless: outbound HTTP (fazt.net.fetch) ---------------------------------------


@app.group()
def net() -> None:
    """Hosts an app's fazt.net.fetch may reach: its manifest's net.allow plus these rules."""


def _net_rule(name: str, host: str, rule: str, url, token, as_json) -> None:
    with api_client(url, token) as client:
        result = client.request("PUT", f"/api/apps/{name}/net/{host}", json={"rule": rule})
    if as_json:
        print_json(result)
    else:
        click.echo(f"{result['host']}: {result['rule']} for '{result['app']}'")


@net.command("allow")
@click.argument("name")
@click.argument("host")
@remote_options
def net_allow(name, host, url, token, as_json) -> None:
    """Let the app fetch from HOST (api.example.com, *.example.org, host:8443)."""
    _net_rule(name, host, "allow", url, token, as_json)


@net.command("deny")
@click.argument("name")
@click.argument("host")
@remote_options
def net_deny(name, host, url, token, as_json) -> None:
    """Refuse HOST to the app, whatever its manifest.json asks for."""
    _net_rule(name, host, "deny", url, token, as_json)


@net.command("remove")
@click.argument("name")
@click.argument("host")
@remote_options
def net_remove(name, host, url, token, as_json) -> None:
    """Remove the allow or deny rule for HOST."""
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/apps/{name}/net/{host}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"{result['host']}: rule removed from '{result['app']}'")


@net.command("list")
@click.argument("name")
@remote_options
def net_list(name, url, token, as_json) -> None:
    """List the hosts the app may fetch from: manifest entries and rules."""
    with api_client(url, token) as client:
        result = client.get(f"/api/apps/{name}/net")
    if as_json:
        print_json(result)
        return
    rows = [{"host": h, "rule": "allow", "from": "manifest.json"} for h in result["manifest"]]
    rows += [
        {"host": r["host"], "rule": r["rule"], "from": "fazt app net"} for r in result["rules"]
    ]
    print_table(rows, ["host", "rule", "from"])


@app.command()
@click.argument("name")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Newest log lines shown.",
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("--interval", type=float, default=1.0, hidden=True)
@remote_options
def logs(name, limit, follow, interval, url, token, as_json) -> None:
    """Show an app's console and error output, oldest first."""
    import time

    def show(entries: list[dict]) -> None:
        for entry in entries:
            if as_json:
                click.echo(json.dumps(entry))
            else:
                click.echo(
                    f"{entry['created_at']} {entry['level'].upper():5} "
                    f"[{entry['request_id'] or '-'}] {entry['message']}"
                )

    with api_client(url, token) as client:
        entries = client.get(f"/api/apps/{name}/logs", params={"limit": limit})
        if as_json and not follow:
            print_json(entries)
            return
        show(entries)
        after = entries[-1]["id"] if entries else 0
        try:
            while follow:
                time.sleep(interval)
                entries = client.get(
                    f"/api/apps/{name}/logs", params={"after": after, "limit": 1000}
                )
                show(entries)
                if entries:
                    after = entries[-1]["id"]
                sys.stdout.flush()
        except KeyboardInterrupt:
            return
