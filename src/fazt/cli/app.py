"""`fazt app ...`: list, inspect, roll back, promote and delete deployed sites."""

import click

from fazt.cli.common import (
    api_client,
    console,
    human_size,
    json_option,
    print_json,
    print_table,
    to_option,
    token_option,
)


@click.group()
def app() -> None:
    """Manage deployed apps (sites)."""


@app.command("list")
@to_option
@token_option
@json_option
def list_apps(url, token, as_json) -> None:
    """List apps with their live URL, size and last deploy."""
    with api_client(url, token) as client:
        apps = client.get("/api/apps")
    if as_json:
        print_json(apps)
        return
    rows = [{**a, "size": human_size(a["size_bytes"]), "files": a["file_count"]} for a in apps]
    print_table(rows, ["name", "kind", "url", "files", "size", "last_deploy_at"])


@app.command()
@click.argument("name")
@to_option
@token_option
@json_option
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
@to_option
@token_option
@json_option
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
    print_table(rows, ["id", "live", "files", "size", "deployed_by", "finalized_at"])


@app.command()
@click.argument("name")
@click.argument("deployment_id", type=int, required=False)
@to_option
@token_option
@json_option
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
@to_option
@token_option
@json_option
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
@to_option
@token_option
@json_option
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
@to_option
@token_option
@json_option
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
