"""`fazt webhook ...`: inbound webhooks at /webhook/<name>, verified by HMAC-SHA256."""

import click

from fazt.cli.common import api_client, fail, print_json, print_table, remote_options


@click.group()
def webhook() -> None:
    """Inbound webhooks: POST /webhook/NAME on the dashboard host stores the payload."""


@webhook.command()
@click.argument("name")
@click.option("--secret", default=None, help="The shared HMAC secret (default: generated).")
@click.option("--unsigned", is_flag=True, help="Accept unsigned payloads (stored unverified).")
@click.option(
    "--legacy-signatures",
    is_flag=True,
    help="Also accept the original fazt v0.9's X-Webhook-Signature (no replay protection).",
)
@remote_options
def add(name, secret, unsigned, legacy_signatures, url, token, as_json) -> None:
    """Create the webhook NAME. A generated secret is printed once: give it to the sender."""
    if secret is not None and unsigned:
        fail("use either --secret or --unsigned")
    body: dict = {"name": name}
    if secret is not None:
        body["secret"] = secret
    if unsigned:
        body["unsigned"] = True
    if legacy_signatures:
        body["legacy_signatures"] = True
    with api_client(url, token) as client:
        result = client.post("/api/webhooks", json=body)
    if as_json:
        print_json(result)
        return
    click.echo(f"Created webhook {result['name']}: POST /webhook/{result['name']}")
    if "secret" in result:
        click.echo(f"Secret (shown once): {result['secret']}")
    if result["signed"]:
        click.echo(
            "Senders sign each delivery: X-Fazt-Signature: t=<unix time>,"
            'v1=<HMAC-SHA256 hex of "<t>.<body>"> (see docs/analytics.md)'
        )


@webhook.command("list")
@remote_options
def list_webhooks(url, token, as_json) -> None:
    """List webhooks (never their secrets)."""
    with api_client(url, token) as client:
        rows = client.get("/api/webhooks")
    if as_json:
        print_json(rows)
    else:
        columns = ["name", "signed", "legacy_signatures", "events", "last_event_at", "created_at"]
        print_table(rows, columns)


@webhook.command()
@click.argument("name")
@remote_options
def remove(name, url, token, as_json) -> None:
    """Delete the webhook NAME and its stored payloads."""
    with api_client(url, token) as client:
        result = client.request("DELETE", f"/api/webhooks/{name}")
    if as_json:
        print_json(result)
    else:
        click.echo(f"Removed webhook {result['name']}")


@webhook.command()
@click.argument("name", required=False)
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@remote_options
def events(name, limit, url, token, as_json) -> None:
    """Show received payloads (of NAME, or of every webhook)."""
    params: dict = {"limit": limit}
    if name:
        params["webhook"] = name
    with api_client(url, token) as client:
        rows = client.get("/api/webhook-events", params=params)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "webhook", "received_at", "verified", "event"])
