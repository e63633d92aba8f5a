"""What the CLI tells a newcomer: typo suggestions, -V/-v, unwrapped output in pipes and CI
logs, a next step for a server that is down or a refused token, `backup create --out DIR/`."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from fazt import __version__
from tests.conftest import fazt_cmd, free_port, init_server, run_cli


def run_piped(home: Path, *args: str, env: dict[str, str] | None = None):
    """The CLI with stdout/stderr on pipes and no COLUMNS: what a CI job sees."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FAZT_TOKEN")}
    return subprocess.run(
        [*fazt_cmd(), *args],
        env={**base, "FAZT_HOME": str(home), "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """One running server for the tests that need an answer (a 401)."""
    server = init_server(tmp_path_factory.mktemp("guidance") / "home")
    with server.serving():
        yield server
    server.http.close()


# -- 1. "Did you mean" at every level ----------------------------------------------------


def test_top_level_typo_gets_a_suggestion_like_subgroups_do(fazt_home):
    top = run_cli(fazt_home, "deplo", check=False)
    assert top.returncode == 2
    assert "No such command 'deplo'. Did you mean 'deploy'?" in top.stderr
    sub = run_cli(fazt_home, "app", "lsit", check=False)
    assert "Did you mean 'list'?" in sub.stderr
    nothing_close = run_cli(fazt_home, "xyzzy", check=False)
    assert nothing_close.returncode == 2 and "Did you mean" not in nothing_close.stderr


# -- 2. -V/--version, -v/--verbose --------------------------------------------------------


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags_print_fazt_and_the_version(fazt_home, flag):
    out = run_cli(fazt_home, flag)
    assert out.stdout.splitlines()[0] == f"fazt {__version__}"


def test_lowercase_v_is_verbose_not_version(fazt_home):
    port = free_port()  # nothing listens there
    out = run_cli(
        fazt_home,
        "-v",
        "app",
        "list",
        "--url",
        f"http://127.0.0.1:{port}",
        "--token",
        "t",
        check=False,
    )
    assert f"fazt {__version__}" not in out.stdout
    assert out.returncode == 1
    assert f"DEBUG fazt.cli: server http://127.0.0.1:{port}, token from --token" in out.stderr
    quiet = run_cli(
        fazt_home, "app", "list", "--url", f"http://127.0.0.1:{port}", "--token", "t", check=False
    )
    assert "DEBUG" not in quiet.stderr


# -- 3. no wrapping when stdout is not a terminal -----------------------------------------


def test_long_error_line_arrives_in_one_piece_in_a_pipe(fazt_home):
    url = f"http://127.0.0.1:{free_port()}/" + "p" * 130
    assert len(url) > 150
    out = run_piped(fazt_home, "app", "list", "--url", url, "--token", "t")
    assert out.returncode == 1
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"error: cannot reach {url} (GET /api/apps)"), out.stderr
    assert len(first) > 150


def test_long_table_cells_arrive_in_one_piece_in_a_pipe(tmp_path):
    home = tmp_path / "home"
    srv = init_server(home)
    folder = tmp_path / ("backups-" + "f" * 150)
    run_cli(home, "backup", "create", "--db", str(srv.db), "--out", f"{folder}/")
    out = run_piped(home, "backup", "list", "--dir", str(folder))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert str(folder) in lines, out.stdout  # the title, on one line
    (name,) = [p.name for p in folder.glob("fazt-*.db")]
    row = next(line for line in lines if name in line)
    assert "manual" in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)


# -- 4. a next step for "server down" and "token refused" ---------------------------------


def test_server_down_names_the_url_and_how_to_start_it(fazt_home):
    url = f"http://127.0.0.1:{free_port()}"
    out = run_piped(fazt_home, "app", "list", "--url", url, "--token", "t")
    assert out.returncode == 1
    assert f"cannot reach {url}" in out.stderr
    assert f"next: nothing answers at {url}" in out.stderr
    assert "`fazt server start`" in out.stderr and "`fazt remote list`" in out.stderr


def test_refused_token_names_its_source_and_how_to_make_a_key(srv, fazt_home):
    out = run_piped(fazt_home, "app", "list", "--url", srv.url, "--token", "fzt_bogus")
    assert out.returncode == 1
    assert "INVALID_API_KEY" in out.stderr
    assert "refused the token from --token" in out.stderr
    assert "`fazt key create NAME --scopes deploy --db DATABASE`" in out.stderr
    assert f"`fazt remote add NAME --url {srv.url} --token KEY --replace`" in out.stderr
    env = run_piped(fazt_home, "app", "list", "--url", srv.url, env={"FAZT_TOKEN": "fzt_bogus"})
    assert "refused the token from $FAZT_TOKEN" in env.stderr


def test_refused_saved_token_names_the_peer(srv, fazt_home):
    run_cli(
        fazt_home, "remote", "add", "prod", "--url", srv.url, "--token", "fzt_stale", "--no-check"
    )
    out = run_piped(fazt_home, "app", "list", "--url", srv.url)
    assert "refused the token from saved peer 'prod'" in out.stderr


def test_a_real_failure_that_is_not_401_gets_no_misleading_hint(srv):
    out = run_piped(srv.home, "app", "info", "no-such-app")
    assert out.returncode == 1
    assert "next:" not in out.stderr


# -- 5. backup create --out DIR/ ----------------------------------------------------------


def test_backup_to_a_missing_folder_with_slash_creates_it_and_writes_inside(tmp_path):
    home = tmp_path / "home"
    srv = init_server(home)
    folder = tmp_path / "missing-dir"
    out = run_cli(home, "backup", "create", "--db", str(srv.db), "--out", f"{folder}/", "--json")
    manifest = json.loads(out.stdout)
    assert folder.is_dir()
    (made,) = folder.glob("fazt-*-manual.db")
    assert Path(manifest["path"]) == made
    # An existing folder without the slash is a folder too; any other path is a file.
    run_cli(home, "backup", "create", "--db", str(srv.db), "--out", str(folder))
    assert len(list(folder.glob("fazt-*-manual.db"))) == 2
    run_cli(home, "backup", "create", "--db", str(srv.db), "--out", str(tmp_path / "one.db"))
    assert (tmp_path / "one.db").is_file()
