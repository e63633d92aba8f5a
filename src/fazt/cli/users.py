"""`fazt app users NAME` (the visitors who signed in to an app, with their roles and the
size of their fazt.storage.user data), `fazt app users role NAME USER ROLE` (USER: the id
or the email; ROLE: owner, admin, user), `export NAME USER` (their data as JSON), `purge
NAME USER` (delete their data) and `remove NAME USER` (their account and data)."""

import json
from urllib.parse import quote

import click

from fazt.cli.common import api_client, human_size, print_json, print_table, remote_options


class _UsersGroup(click.Group):
    """`fazt app users NAME` is `fazt app users list NAME`."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        return found or (None if cmd_name.startswith("-") else self.commands["list"])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "list", self.commands["list"], args
        return super().resolve_command(ctx, args)


@click.group(cls=_UsersGroup)
def users() -> None:
    """Visitors signed in to an app and their roles: `fazt app users NAME`."""


@users.command("list")
@click.argument("name")
@remote_options
def list_users(name, url, token, as_json) -> None:
    """List an app's signed-in visitors."""
    with api_client(url, token) as client:
        data = client.get(f"/api/apps/{name}/users")
    if as_json:
        print_json(data)
        return
    rows = [
        {**u, "storage": f"{human_size(u['storage']['bytes'])} / {u['storage']['items']}"}
        for u in data["users"]
    ]
    print_table(rows, ["id", "email", "name", "role", "storage", "last_login_at"])


@users.command("role")
@click.argument("name")
@click.argument("user")
@click.argument("role", type=click.Choice(["owner", "admin", "user"]))
@remote_options
def set_role(name, user, role, url, token, as_json) -> None:
    """Set a visitor's role in an app."""
    with api_client(url, token) as client:
        data = client.request(
            "PUT", f"/api/apps/{name}/users/{quote(user, safe='')}/role", json={"role": role}
        )
    if as_json:
        print_json(data)
        return
    click.echo(f"{data['app']}: {data['id']} is now {data['role']}")


def _user_path(name: str, user: str) -> str:
    return f"/api/apps/{quote(name, safe='')}/users/{quote(user, safe='')}"


@users.command("export")
@click.argument("name")
@click.argument("user")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@remote_options
def export_data(name, user, output, url, token, as_json) -> None:
    """Export everything a visitor stored with fazt.storage.user (JSON: kv, documents,
    objects with their contents in base64)."""
    with api_client(url, token) as client:
        data = client.get(_user_path(name, user) + "/data")
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        if not as_json:
            counts = f"{len(data['kv'])} keys, {len(data['objects'])} objects"
            click.echo(f"Wrote {data['user']}'s data in {data['app']} ({counts}) to {output}")
        return
    click.echo(text)


@users.command("purge")
@click.argument("name")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@remote_options
def purge_data(name, user, yes, url, token, as_json) -> None:
    """Delete everything a visitor stored with fazt.storage.user (the account stays)."""
    if not yes:
        click.confirm(f"Delete all data of '{user}' in '{name}'?", abort=True)
    with api_client(url, token) as client:
        data = client.request("DELETE", _user_path(name, user) + "/data")
    if as_json:
        print_json(data)
        return
    d = data["deleted"]
    click.echo(
        f"{data['app']}: deleted {data['id']}'s data "
        f"({d['kv']} keys, {d['documents']} documents, {d['objects']} objects)"
    )


@users.command("remove")
@click.argument("name")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@remote_options
def remove_user(name, user, yes, url, token, as_json) -> None:
    """Delete a visitor's account: their sessions and stored data go with it."""
    if not yes:
        click.confirm(f"Delete the account of '{user}' in '{name}' and all its data?", abort=True)
    with api_client(url, token) as client:
        data = client.request("DELETE", _user_path(name, user))
    if as_json:
        print_json(data)
        return
    click.echo(f"{data['app']}: deleted {data['id']} and their data")
