"""`fazt auth provider add|list|remove`: the sign-in providers visitors use on every app
(`/_fazt/auth/login?provider=NAME`). The client secret is read from an environment
variable or a file, never from the command line (where `ps` and shell history see it),
and the server never shows it again."""

import os
from pathlib import Path

import click

from fazt.cli.common import api_client, fail, print_json, print_table, remote_options


@click.group()
def auth() -> None:
    """Sign-in for visitors of apps: providers (OpenID Connect, Google, dev)."""


@auth.group()
def provider() -> None:
    """Sign-in providers, configured once per server."""


def _secret(env_name: str | None, file: Path | None) -> str:
    if (env_name is None) == (file is None):
        fail(
            "give the client secret with exactly one of --client-secret-env or --client-secret-file"
        )
    if env_name is not None:
        value = os.environ.get(env_name, "")
        if not value:
            fail(f"the environment variable {env_name} is empty or not set")
        return value.strip()
    try:
        value = file.read_text().strip()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    if not value:
        fail(f"{file} is empty")
    return value


@provider.command("add")
@click.argument("name")
@click.option(
    "--issuer",
    help="The OpenID Connect issuer URL (discovery at ISSUER/.well-known/"
    "openid-configuration). Not needed with --kind google.",
)
@click.option(
    "--kind",
    type=click.Choice(["oidc", "google", "github"]),
    default="oidc",
    show_default=True,
    help="Any OpenID Connect issuer; Google (issuer preset); GitHub (OAuth 2; --issuer only"
    " for GitHub Enterprise Server).",
)
@click.option("--client-id", required=True, help="The client (application) ID.")
@click.option(
    "--client-secret-env",
    "secret_env",
    metavar="VAR",
    help="Read the client secret from this environment variable.",
)
@click.option(
    "--client-secret-file",
    "secret_file",
    type=click.Path(path_type=Path),
    help="Read the client secret from this file.",
)
@click.option(
    "--scopes", default="openid email profile", show_default=True, help="Scopes to ask for."
)
@remote_options
def add(name, issuer, kind, client_id, secret_env, secret_file, scopes, url, token, as_json):
    """Add (or replace) a provider. Register https://<each app's host>/_fazt/auth/callback
    as a redirect URI with the provider."""
    body = {
        "name": name,
        "kind": kind,
        "issuer": issuer,
        "client_id": client_id,
        "client_secret": _secret(secret_env, secret_file),
        "scopes": scopes,
    }
    with api_client(url, token) as client:
        data = client.post("/api/auth/providers", json=body)
    if as_json:
        print_json(data)
        return
    click.echo(f"provider '{data['name']}' ({data['kind']}): {data['issuer']}")
    click.echo(f"sign in on an app at /_fazt/auth/login?provider={data['name']}")


@provider.command("list")
@remote_options
def list_providers(url, token, as_json) -> None:
    """List the providers (never their secrets)."""
    with api_client(url, token) as client:
        data = client.get("/api/auth/providers")
    if as_json:
        print_json(data)
        return
    print_table(data["providers"], ["name", "kind", "issuer", "client_id", "scopes"])
    click.echo("dev: built in, for localhost and *.localhost hosts only")


@provider.command("remove")
@click.argument("name")
@remote_options
def remove(name, url, token, as_json) -> None:
    """Remove a provider (signed-in visitors stay signed in until their sessions end)."""
    with api_client(url, token) as client:
        data = client.request("DELETE", f"/api/auth/providers/{name}")
    if as_json:
        print_json(data)
        return
    click.echo(f"provider '{name}' removed")
