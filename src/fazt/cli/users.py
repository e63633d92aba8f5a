"""`fazt app users NAME` (the visitors who signed in to an app, with their roles) and
`fazt app users role NAME USER ROLE` (USER: the id or the email; ROLE: owner, admin, user)."""

from urllib.parse import quote

import click

from fazt.cli.common import api_client, print_json, print_table, remote_options


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
    print_table(data["users"], ["id", "email", "name", "role", "last_login_at"])


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
