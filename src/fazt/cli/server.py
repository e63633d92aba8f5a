"""`fazt server ...`: run, initialise and configure a server and its database."""

import os
import sys
import time
from pathlib import Path

import click

from fazt import __version__
from fazt.auth import passwords, tokens
from fazt.cli.common import (
    console,
    db_option,
    duration,
    errors,
    fail,
    human_size,
    json_option,
    log_options,
    open_db,
    print_json,
    print_table,
    renamed_notice,
    resolve_db_path,
)
from fazt.cli.https_options import https_options
from fazt.cli.https_options import save_options as save_https_options
from fazt.cli.key import create_in_database, parse_key_options, scopes_option, sites_option
from fazt.db import Database, disk, migrations, setting_schema, settings
from fazt.hosting import deployments, seeding
from fazt.hosting.names import validate_domain
from fazt.https import report as https_report
from fazt.remote import peers
from fazt.server.bootstrap import initialise

DEFAULT_PORT = 4698
CRASH_LOOP_RESTARTS = 3  # restarts in an hour that `server status` calls a crash loop


@click.group()
def server() -> None:
    """Run and configure a fazt server."""


def _check_domain(domain: str | None) -> str | None:
    if domain is None or domain == "localhost":
        return domain
    try:
        return validate_domain(domain)
    except ValueError as exc:
        fail(str(exc))


def _announce_init(result, port: int) -> None:
    peers.save(peers.LOCAL_PEER, f"http://localhost:{port}", result.local_token)
    click.echo(f"Initialised: admin user '{result.username}'.")
    if result.password:
        click.echo(f"  Admin password (shown once, save it now): {result.password}")
    click.echo(f"  The local CLI is set up to deploy here (key saved in {peers.client_db_path()}).")


@server.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"Port (default: the saved setting, else {DEFAULT_PORT}).",
)
@click.option("--domain", default=None, help="Domain for this run (default: saved setting).")
@click.option(
    "--allow-unsafe-fs",
    is_flag=True,
    help="Start even if the database is on a network/virtual filesystem (NFS, SMB, FUSE...).",
)
@click.option(
    "--background",
    is_flag=True,
    help="Run detached, logging to fazt.log next to the database (`fazt server logs`); "
    "returns once it serves.",
)
@https_options
@db_option
def start(
    host: str,
    port: int | None,
    domain: str | None,
    allow_unsafe_fs: bool,
    background: bool,
    db_path: Path | None,
    **https: object,
) -> None:
    """Start serving; initialises an empty database first.

    This process supervises a worker process that does the serving, so that restarts
    (upgrades, new certificates) hand over without dropping a connection.
    """
    if background:
        from fazt.cli import background as detached
        from fazt.cli.logfile import log_path

        args = sys.argv[sys.argv.index("start") :]  # this very start, minus --background
        args = [a for a in args if a != "--background"]
        sys.exit(detached.start(args, log_path(resolve_db_path(db_path))))
    from fazt.backup.fscheck import unsafe_filesystem, unsafe_message
    from fazt.server.guard import AlreadyServing, ServerLock, check_port_free
    from fazt.server.https_ports import https_addresses
    from fazt.server.supervisor import exec_supervisor

    sys.stdout.reconfigure(line_buffering=True)
    domain = _check_domain(domain)
    path = resolve_db_path(db_path)
    unsafe = unsafe_filesystem(path)
    if unsafe is not None:
        if not allow_unsafe_fs:
            fail(unsafe_message(path, unsafe))
        click.echo(f"warning: {unsafe_message(path, unsafe)}", err=True)
    # The port is known before anything is created: a busy port must leave no database,
    # printed password or saved peer behind.
    port = port or _saved_port(path) or DEFAULT_PORT
    lock = ServerLock(path)
    try:
        check_port_free(host, port)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
        with open_db(db_path) as db:
            _prepare(db, domain, port)
            save_https_options(db, https, port)  # fazt.https: saved in the settings
            _point_local_peer(db, port)
        check_port_free(host, port)  # taken while we prepared
    except AlreadyServing as exc:
        lock.release()
        fail(f"cannot start: {exc}")
    exec_supervisor(host, port, path, lock.fd, https=https_addresses(str(path)))


def _saved_port(path: Path) -> int | None:
    """The port setting of an existing database, read without creating or migrating it."""
    value = settings.saved(path, "port")
    return int(value) if value is not None and str(value).isdigit() else None


def _point_local_peer(db: Database, port: int) -> None:
    """Keep the CLI's `local` peer on the port this start serves, if its key is this
    database's (a `local` peer of another database is left alone)."""
    peer = peers.find(peers.LOCAL_PEER)
    url = f"http://localhost:{port}"
    if peer is None or peer.url == url or db.read_sync(tokens.lookup, peer.token) is None:
        return
    peers.save(peers.LOCAL_PEER, url, peer.token)
    click.echo(f"The local CLI peer now points at {url}.")


@server.command(hidden=True)
@click.option("--host", required=True)
@click.option("--port", type=click.IntRange(1, 65535), required=True)
@click.option("--ready-fd", type=int, default=None, help="Pipe to report readiness on.")
@click.option("--listen-fd", type=int, default=None, help="The listening socket to serve.")
@click.option("--extra-listen-fd", type=int, multiple=True, help="An HTTPS-mode port's socket.")
@db_option
def worker(
    host: str,
    port: int,
    ready_fd: int | None,
    listen_fd: int | None,
    extra_listen_fd: tuple[int, ...],
    db_path: Path | None,
) -> None:
    """Serve (started by `fazt server start`, which supervises it)."""
    # `python -m fazt server worker` (what a supervisor runs) goes there without the CLI.
    from fazt.server.worker_main import main as serve_worker

    args = ["--host", host, "--port", str(port)]
    if ready_fd is not None:
        args += ["--ready-fd", str(ready_fd)]
    if listen_fd is not None:
        args += ["--listen-fd", str(listen_fd)]
    for fd in extra_listen_fd:
        args += ["--extra-listen-fd", str(fd)]
    if db_path is not None:
        args += ["--db", str(db_path)]
    sys.exit(serve_worker(args))


def _prepare(db: Database, domain: str | None, port: int) -> None:
    """Initialise an empty database or refresh system sites."""
    if not db.read_sync(settings.is_initialised):
        result = db.write_sync(lambda c: initialise(c, domain=domain or "localhost", port=port))
        _announce_init(result, port)
    else:
        db.write_sync(seeding.seed)
    if domain:
        db.write_sync(settings.put, "domain", domain)


@server.command()
@click.option("--username", default=None, help="Admin username (default: admin).")
@click.option("--password", default=None, help="Admin password (generated if omitted).")
@click.option("--domain", default=None, help="Domain (default: localhost).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help=f"Port (default: {DEFAULT_PORT})."
)
@db_option
def init(username, password, domain, port, db_path) -> None:
    """Initialise a new database (prompts for what is missing when run in a terminal)."""
    interactive = sys.stdin.isatty()
    if interactive:
        username = username or click.prompt("Admin username", default="admin")
        password = (
            password
            or click.prompt(
                "Admin password (empty: generate one)",
                default="",
                hide_input=True,
                show_default=False,
            )
            or None
        )
        domain = domain or click.prompt("Domain", default="localhost")
    domain = _check_domain(domain) or "localhost"
    port = port or DEFAULT_PORT
    if password is not None and len(password) < passwords.MIN_PASSWORD_LENGTH:
        fail(f"the password must be at least {passwords.MIN_PASSWORD_LENGTH} characters")
    with open_db(db_path) as db:
        if db.read_sync(settings.is_initialised):
            fail(
                f"{db.path} is already initialised (use `fazt server set-config` or "
                "`fazt server reset-admin` to change it)"
            )
        result = db.write_sync(
            lambda c: initialise(
                c, domain=domain, port=port, username=username or "admin", password=password
            )
        )
    _announce_init(result, port)
    click.echo(f"Database: {resolve_db_path(db_path)}")


@server.command()
@db_option
@json_option
def status(db_path, as_json) -> None:
    """Show the configuration, contents and whether the server answers."""
    path = resolve_db_path(db_path)
    with open_db(db_path, must_exist=True) as db:
        info = db.read_sync(_status_info)
        info["https"] = db.read_sync(https_report.describe)
    info["database"] = str(path)
    info["database_bytes"] = os.path.getsize(path)
    info.update(_disk_info(path, info["_settings"]))
    info.update(_running_info(path, int(info["port"])))
    from fazt.backup import replicate, standby

    info["replication"] = replicate.describe(path, info.pop("_settings"))
    info["standby"] = standby.describe(path) if standby.marker(path) else None
    if as_json:
        print_json(info)
        return
    console.print("[bold]fazt server status[/bold]")
    free = info["disk_free_bytes"]
    for label, value in [
        ("Database", f"{info['database']} ({human_size(info['database_bytes'])})"),
        ("Disk free", "?" if free is None else human_size(free)),
        ("Schema version", info["schema_version"]),
        ("Domain", info["domain"]),
        ("Port", info["port"]),
        ("Admin user", info["admin_user"]),
        ("Sites", info["sites"]),
        ("API keys", info["api_keys"]),
        ("Running", _running_line(info)),
        ("Restarts", _restarts_line(info)),
        ("HTTPS", https_report.summary(info["https"])),
    ]:
        console.print(f"  {label + ':':16} {value}", highlight=False)
    rep = info["replication"]
    if info["standby"]:  # its replication settings are the primary's, copied: not its own
        follow = info["standby"]
        lag = "unknown" if follow["lag_seconds"] is None else f"{follow['lag_seconds']}s"
        state = "following" if follow["following"] else "NOT following"
        line = f"read-only, {state} {follow['from']}, position {follow['position']}, lag {lag}"
        if follow.get("primary"):
            line += f", writes go to {follow['primary']}"
        console.print(f"  {'Standby:':16} {line}", highlight=False)
    elif rep["enabled"]:
        lag = "unknown" if rep["lag_seconds"] is None else f"{rep['lag_seconds']}s"
        state = f"running (pid {rep['pid']})" if rep["running"] else "not running"
        console.print(f"  {'Replication:':16} {rep['url']}, {state}, lag {lag}", highlight=False)
        if rep.get("down_since"):
            console.print(f"  {'Replica down:':16} since {rep['down_since']}", highlight=False)
        if rep["last_error"]:
            console.print(f"  {'Replication err:':16} {rep['last_error']}", highlight=False)
    else:
        console.print(f"  {'Replication:':16} off", highlight=False)
    if info["disk_warning"]:
        errors.print(f"[yellow]warning:[/yellow] {info['disk_warning']}", highlight=False)


def _disk_info(path: Path, values: dict[str, str]) -> dict:
    """Free space on the database's disk, and a warning under `disk_free_warn_mb`."""
    free = disk.free_bytes(path)
    warning = disk.free_space_warning(path, int(values["disk_free_warn_mb"]))
    return {"disk_free_bytes": free, "disk_warning": warning}


@server.command()
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=None,
    help="Seconds to wait for in-flight requests to finish (default: 40).",
)
@db_option
@json_option
def stop(timeout: float | None, db_path: Path | None, as_json: bool) -> None:
    """Stop the server serving this database (its requests in flight finish first)."""
    from fazt.server import control

    path = resolve_db_path(db_path)
    try:
        pid = control.stop(path, timeout or control.STOP_DEADLINE)
    except control.ControlError as exc:
        fail(f"cannot stop: {exc}")
    if as_json:
        print_json({"stopped": True, "pid": pid, "database": str(path)})
    else:
        click.echo(f"Stopped the fazt server (pid {pid}) of {path}.")


@server.command()
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=None,
    help="Seconds to wait for the new worker to take over (default: 100).",
)
@db_option
@json_option
def restart(timeout: float | None, db_path: Path | None, as_json: bool) -> None:
    """Restart without downtime: a fresh worker takes over, then the old one drains."""
    from fazt.server import control

    path = resolve_db_path(db_path)
    try:
        result = control.restart(path, timeout or control.RESTART_DEADLINE)
    except control.ControlError as exc:
        fail(f"cannot restart: {exc}")
    if as_json:
        print_json({"restarted": True, **result, "database": str(path)})
    else:
        workers = ", ".join(str(w) for w in result["workers"])
        click.echo(
            f"Restarted: worker {workers} now serves port {result['port']} "
            f"(supervisor pid {result['pid']})."
        )


@server.command()
@log_options
@db_option
def logs(follow: bool, lines: int, db_path: Path | None) -> None:
    """Show the log of a server started with `fazt server start --background`."""
    from fazt.cli import logfile

    path = logfile.log_path(resolve_db_path(db_path))
    if not path.exists():
        fail(
            f"no log at {path}: only `fazt server start --background` writes one (a server "
            "started in a terminal prints there; a service: `fazt service logs`)"
        )
    for line in logfile.last_lines(path, lines):
        click.echo(line)
    if follow:
        try:
            for text in logfile.follow(path):
                click.echo(text, nl=False)
        except KeyboardInterrupt:
            pass


def _running_info(path: Path, saved_port: int) -> dict:
    """Whether a server serves this database, and its supervisor pid, port and uptime."""
    from fazt.server import control
    from fazt.server.guard import running_pid

    pid = running_pid(path)
    port = (control.served_port(pid) if pid else None) or saved_port
    host = control.served_host(pid) if pid else "127.0.0.1"
    health = control.health(port, host)
    return {
        "running": health.get("version") is not None,
        "running_version": health.get("version"),
        "pid": pid,
        "serving_port": port if pid else None,
        "uptime_seconds": control.uptime_seconds(pid) if pid else None,
        "workers": len(control.children(pid)) if pid else None,
        # Worker restarts after crashes, from the supervisor via /health (a crash loop).
        "restarts_last_hour": health.get("restarts_last_hour"),
        "last_restart": health.get("last_restart"),
    }


def _running_line(info: dict) -> str:
    if info["pid"] is None:
        return "yes (not started by `fazt server start`?)" if info["running"] else "no"
    state = f"version {info['running_version']}" if info["running"] else "not answering"
    if not info["running"] and not info["workers"]:
        state = "no worker: restarting a crashed one (see the log)"
    return (
        f"yes, pid {info['pid']}, port {info['serving_port']}, {state}, "
        f"up {duration(info['uptime_seconds'])}"
    )


def _restarts_line(info: dict) -> str:
    """The worker restarts after crashes in the last hour; a crash loop says so."""
    count, last = info["restarts_last_hour"], info["last_restart"]
    if count is None:
        return "unknown (the server does not answer)" if info["pid"] else "-"
    if not count:
        return "none in the last hour"
    ago = duration(max(0, int(time.time()) - int(last["at"])))
    line = f"{count} in the last hour (the last {ago} ago, exit code {last['exit_code']})"
    return line + " - a crash loop: see the log" if count >= CRASH_LOOP_RESTARTS else line


def _status_info(conn) -> dict:
    values = settings.all_settings(conn)
    return {
        "_settings": values,
        "version": __version__,
        "schema_version": migrations.current_version(conn),
        "domain": values["domain"],
        "port": int(values["port"]),
        "admin_user": passwords.admin_username(conn),
        "sites": len(deployments.list_sites(conn)),
        "api_keys": conn.execute(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"
        ).fetchone()[0],
    }


@server.command("set-config")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--domain", default=None, help="The domain sites are served under.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Listening port.")
@click.option(
    "--history-limit", type=click.IntRange(1, 1000), default=None, help="Deployments kept per site."
)
@click.option(
    "--cache-mb", type=click.IntRange(1, 65536), default=None, help="Static file cache size in MB."
)
@click.option(
    "--trusted-proxies",
    default=None,
    help="Comma-separated IPs/CIDRs whose X-Forwarded-For is believed ('' for none).",
)
@click.option(
    "--session-ttl-hours",
    type=click.IntRange(1, 24 * 365),
    default=None,
    help="Idle dashboard sessions end after this many hours.",
)
@click.option(
    "--session-max-age-hours",
    type=click.IntRange(1, 24 * 365),
    default=None,
    help="Every dashboard session ends this many hours after its login.",
)
@click.option("--release-url", default=None, help="The signed release index upgrades use.")
@db_option
def set_config(
    pairs,
    domain,
    port,
    history_limit,
    cache_mb,
    trusted_proxies,
    session_ttl_hours,
    session_max_age_hours,
    release_url,
    db_path,
) -> None:
    """Change saved settings: the options below, or any KEY=VALUE of `fazt server config`
    (e.g. runtime_timeout_ms=10000). Most apply at the next start; it says which."""
    changes = {
        "domain": _check_domain(domain),
        "port": port,
        "history_limit": history_limit,
        "cache_max_bytes": cache_mb * 1024 * 1024 if cache_mb else None,
        "trusted_proxies": _check_proxies(trusted_proxies),
        "session_ttl_seconds": session_ttl_hours * 3600 if session_ttl_hours else None,
        "session_max_age_hours": session_max_age_hours,
        "release_url": _check_release_url(release_url),
    }
    changes = {k: str(v) for k, v in changes.items() if v is not None}
    changes.update(_parse_pairs(pairs))
    if not changes:
        fail(
            "nothing to change: pass KEY=VALUE (see `fazt server config`) or --domain, --port, "
            "--history-limit, --cache-mb, --trusted-proxies, --session-ttl-hours, "
            "--session-max-age-hours or --release-url"
        )
    try:  # all checked before anything is written: a bad value changes nothing
        changes = {k: setting_schema.check(k, v) for k, v in changes.items()}
    except settings.SettingError as exc:
        fail(str(exc))
    with open_db(db_path, must_exist=True) as db:
        db.write_sync(lambda c: [settings.put(c, k, v) for k, v in changes.items()])
    for key, value in changes.items():
        click.echo(f"{key} = {value}")
    _say_when_applied(list(changes))


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE arguments -> {key: value} (checked against the schema by the caller)."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            fail(f"expected KEY=VALUE, got {pair!r} (`fazt server config` lists the keys)")
        found[key.strip()] = value
    return found


def _say_when_applied(keys: list[str]) -> None:
    """Which of the changed settings a running server picks up, and which need a restart."""
    later = [k for k in keys if setting_schema.lookup(k).restart and k != "port"]
    live = [k for k in keys if not setting_schema.lookup(k).restart]
    if live:
        click.echo(f"A running server picks up {', '.join(live)} by itself.")
    if later:
        click.echo(
            f"{', '.join(later)}: applied at the next start; "
            "restart a running server to apply (`fazt server restart`)."
        )
    if "port" in keys:  # the supervisor holds the port: a handover keeps it
        click.echo("port: applied at the next `fazt server start` (`server restart` keeps it).")


@server.command("config")
@db_option
@json_option
def config(db_path, as_json) -> None:
    """List every setting: its value, default, whether a change needs a restart, and doc."""
    with open_db(db_path, must_exist=True) as db:
        rows = db.read_sync(settings.describe)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["restart"] = "restart" if row["restart"] else "live"
        row["default"] = row["default"] or "(empty)"
        row["doc"] = f"{row['doc']}; {row['allowed']}"
    print_table(rows, ["name", "value", "default", "restart", "doc"])


def _check_proxies(text: str | None) -> str | None:
    if text is None:
        return None
    from fazt.auth.clientip import parse_trusted

    try:
        networks = parse_trusted(text)
    except ValueError as exc:
        fail(f"--trusted-proxies: {exc}")
    return ",".join(str(n) for n in networks)


def _check_release_url(url: str | None) -> str | None:
    if url is None:
        return None
    if not (url.startswith(("https://", "http://")) or Path(url).is_absolute()):
        fail("--release-url must be an http(s) URL or an absolute path to releases.json")
    return url


@server.command("create-key", hidden=True)
@click.option("--name", required=True, help="A label for the key (e.g. ci, laptop).")
@scopes_option
@sites_option
@db_option
def create_key(name, scopes, sites, db_path) -> None:
    """Old name of `fazt key create NAME --db PATH`: prints the token alone."""
    path = resolve_db_path(db_path)
    renamed_notice("fazt server create-key --name N", f"fazt key create N --db {path}")
    scope_set, site_set = parse_key_options(scopes, sites)
    click.echo(create_in_database(db_path, name, scope_set, site_set)["token"])


@server.command("reset-admin")
@click.option("--username", default=None, help="Admin username (default: keep the current one).")
@click.option("--password", default=None, help="New password (default: generate one).")
@click.option(
    "--keep-password", is_flag=True, help="Keep the current password (change only --username)."
)
@click.option("--keep-sessions", is_flag=True, help="Do not log out the dashboard sessions.")
@db_option
def reset_admin(username, password, keep_password, keep_sessions, db_path) -> None:
    """Set the admin login: a new password (generated unless given), optionally a new
    username; every dashboard session is logged out unless --keep-sessions."""
    if keep_password and password is not None:
        fail("--password and --keep-password: give one of them")
    generated = password is None and not keep_password
    if generated:
        password = passwords.generate_password()
    name, ended = _set_admin(db_path, username, password, keep_sessions)
    if keep_sessions:
        click.echo(f"Credentials updated for '{name}'; dashboard sessions kept.")
    else:
        click.echo(f"Admin user '{name}' reset; {ended} dashboard session(s) logged out.")
    if generated:
        click.echo(f"  New password (shown once, save it now): {password}")


@server.command("set-credentials", hidden=True)
@click.option("--username", default=None, help="New admin username.")
@click.option("--password", default=None, help="New admin password.")
@db_option
def set_credentials(username, password, db_path) -> None:
    """Old name of `fazt server reset-admin --keep-sessions`."""
    renamed_notice(
        "fazt server set-credentials",
        "fazt server reset-admin --keep-sessions"
        + (" --keep-password" if password is None and username else ""),
    )
    if password is None and sys.stdin.isatty():
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if username is None and password is None:
        fail("pass --username and/or --password")
    name, _ = _set_admin(db_path, username, password, keep_sessions=True)
    click.echo(f"Credentials updated for '{name}'.")


def _set_admin(
    db_path: Path | None, username: str | None, password: str | None, keep_sessions: bool
) -> tuple[str, int]:
    """Write the admin login (password None: keep the current one); end the dashboard
    sessions unless keep_sessions. Returns (username, sessions ended)."""
    from fazt.auth import sessions

    try:
        hashed = None if password is None else passwords.hash_password(password)
    except ValueError as exc:
        fail(str(exc))
    with open_db(db_path, must_exist=True) as db:

        def change(conn) -> tuple[str, int]:
            row = conn.execute("SELECT username, password_hash FROM users LIMIT 1").fetchone()
            name = username or (row["username"] if row else "admin")
            if hashed is None and row is None:
                raise ValueError("there is no admin user yet: give --password too")
            passwords.set_credentials(conn, name, hashed or row["password_hash"])
            return name, 0 if keep_sessions else sessions.revoke_all(conn)

        try:
            return db.write_sync(change)
        except ValueError as exc:
            fail(str(exc))
