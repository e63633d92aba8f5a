"""`fazt app jobs NAME` (an app's scheduled jobs, next runs, last runs) and
`fazt app jobs run NAME JOB` (run one now)."""

import click

from fazt.cli.common import api_client, console, print_json, print_table, remote_options


class _JobsGroup(click.Group):
    """`fazt app jobs NAME ...` is `fazt app jobs list NAME ...`: a word that is not a
    subcommand is the app's name."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        return found or (None if cmd_name.startswith("-") else self.commands["list"])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "list", self.commands["list"], args  # the name stays an argument
        return super().resolve_command(ctx, args)


@click.group(cls=_JobsGroup)
def jobs() -> None:
    """Scheduled jobs of an app (manifest.json "cron"): `fazt app jobs NAME`."""


@jobs.command("list")
@click.argument("name")
@click.option(
    "--runs", type=click.IntRange(0, 100), default=5, show_default=True, help="Runs per job."
)
@remote_options
def list_jobs(name, runs, url, token, as_json) -> None:
    """List an app's jobs: schedule, path, next run (UTC) and the newest runs."""
    with api_client(url, token) as client:
        data = client.get(f"/api/apps/{name}/jobs", params={"runs": runs})
    if as_json:
        print_json(data)
        return
    if not data["jobs"]:
        click.echo(f"'{data['app']}' has no scheduled jobs (manifest.json \"cron\")")
        return
    rows = [{**job, "running": "yes" if job["running_since"] else ""} for job in data["jobs"]]
    print_table(rows, ["name", "schedule", "path", "next_run", "running"])
    for job in data["jobs"]:
        if not job["runs"]:
            continue
        console.print(f"\nLast runs of {job['name']}:", highlight=False)
        print_table(
            job["runs"], ["started_at", "trigger", "status", "http_status", "duration_ms", "error"]
        )


@jobs.command("run")
@click.argument("name")
@click.argument("job")
@remote_options
def run_job(name, job, url, token, as_json) -> None:
    """Run a job of an app now and wait for it to end."""
    with api_client(url, token) as client:
        data = client.request("POST", f"/api/apps/{name}/jobs/{job}/run")
    if as_json:
        print_json(data)
        return
    run = data["run"]
    outcome = f"{run['status']} (HTTP {run['http_status']}) in {run['duration_ms']} ms"
    click.echo(f"{data['app']}/{run['name']}: {outcome}")
    if run["error"]:
        click.echo(run["error"])
