"""`fazt backup ...` against real server processes: online backup under load, verified
restore, refusals that change nothing, scheduled backups."""

import hashlib
import io
import json
import sqlite3
import threading
import zipfile
from pathlib import Path

import httpx

from tests.conftest import init_server, run_cli, running_server, wait_for, write_site


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def site_zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", text)
    return buf.getvalue()


def sites_in(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sites")}
    finally:
        conn.close()


def backup(srv, *extra: str) -> dict:
    out = run_cli(srv.home, "backup", "create", "--db", str(srv.db), "--json", *extra)
    return json.loads(out.stdout)


def test_backup_under_load_then_restore_brings_back_the_old_site(tmp_path):
    home = tmp_path / "home"
    with running_server(home) as srv:
        srv.deploy(write_site(tmp_path / "v1", {"index.html": "version one"}), "blog")
        acked: list[str] = []
        stop = threading.Event()
        errors: list[str] = []

        def load() -> None:  # deploys through the API while the backup runs
            with httpx.Client(timeout=30) as client:
                n = 0
                while not stop.is_set():
                    r = client.post(
                        srv.url + "/api/deploy",
                        headers={"host": "localhost", "authorization": f"Bearer {srv.token}"},
                        data={"site_name": f"load-{n}"},
                        files={"file": ("site.zip", site_zip(f"load {n}"), "application/zip")},
                    )
                    if r.status_code != 200:
                        errors.append(r.text)
                        return
                    acked.append(f"load-{n}")
                    n += 1

        loader = threading.Thread(target=load)
        loader.start()
        try:
            wait_for(lambda: len(acked) >= 3, 30, what="the load generator")
            before = set(acked)
            manifest = backup(srv)
            during = set(acked)
            # Serving continued during the backup.
            assert srv.get("/", host=f"blog.localhost:{srv.port}").text == "version one"
        finally:
            stop.set()
            loader.join()
        assert not errors, errors
        snap = Path(manifest["path"])
        assert snap.parent == home / "backups"
        in_backup = {s for s in sites_in(snap) if s.startswith("load-")}
        assert before <= in_backup <= during | {f"load-{len(during)}"}
        numbers = sorted(int(s.split("-")[1]) for s in in_backup)
        assert numbers == list(range(len(numbers)))  # a prefix of the commits
        verified = json.loads(srv.cli("backup", "verify", str(snap), "--json").stdout)
        assert verified["ok"] and verified["sha256_matches_manifest"] is True
        listed = json.loads(srv.cli("backup", "list", "--json").stdout)
        assert [e["path"] for e in listed] == [str(snap)]

        srv.deploy(write_site(tmp_path / "v2", {"index.html": "version two"}), "blog")
        assert srv.get("/", host=f"blog.localhost:{srv.port}").text == "version two"
        # While the server answers, restore refuses without --yes.
        refused = srv.cli("backup", "restore", str(snap), "--db", str(srv.db), check=False)
        assert refused.returncode != 0 and "running" in refused.stderr
        srv.stop()
        report = json.loads(
            srv.cli("backup", "restore", str(snap), "--db", str(srv.db), "--json").stdout
        )
        assert report["counts"] == manifest["counts"]
        assert report["summary"]["apps"] == manifest["counts"]["sites"]
        assert report["summary"]["API keys"] == manifest["counts"]["api_keys"]
        assert Path(report["previous_database"]).exists()
        assert sites_in(srv.db) == sites_in(snap)
        srv.start()
        assert srv.get("/", host=f"blog.localhost:{srv.port}").text == "version one"


def test_corrupt_and_newer_schema_backups_refused_with_nothing_changed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    srv = init_server(home)
    good = backup(srv)
    live_sha = sha(srv.db)
    files_before = sorted(p.name for p in home.iterdir())

    corrupt = Path(good["path"]).with_name("corrupt.db")
    data = bytearray(Path(good["path"]).read_bytes())
    data[8192:8200] = b"\x00garbage"
    corrupt.write_bytes(bytes(data))
    (corrupt.parent / "corrupt.db.json").write_text(json.dumps(good))
    verify = run_cli(home, "backup", "verify", str(corrupt), check=False)
    assert verify.returncode == 1 and "FAILED" in verify.stdout

    newer = Path(good["path"]).with_name("newer.db")
    newer.write_bytes(Path(good["path"]).read_bytes())
    conn = sqlite3.connect(newer)
    with conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', 'y')"
        )
    conn.close()

    for bad, message in ((corrupt, "sha256 does not match"), (newer, "newer than this fazt")):
        out = run_cli(
            home, "backup", "restore", str(bad), "--db", str(srv.db), "--yes", check=False
        )
        assert out.returncode != 0
        assert message in " ".join(out.stderr.split()) and "nothing was changed" in out.stderr
        assert sha(srv.db) == live_sha
        assert sorted(p.name for p in home.iterdir()) == files_before


def test_scheduled_backups_taken_by_the_server_and_pruned(tmp_path):
    home = tmp_path / "home"
    with running_server(home) as srv:
        out = srv.cli("backup", "schedule", "--every", "1s", "--keep", "2", "--db", str(srv.db))
        assert "every 1s, keeping 2" in out.stdout

        def scheduled() -> list[dict]:
            listed = json.loads(srv.cli("backup", "list", "--json", "--db", str(srv.db)).stdout)
            return [e for e in listed if e.get("reason") == "scheduled"]

        # Each look is a CLI process (~0.3 s of CPU): looking every 50 ms kept a core busy
        # and slowed the server it waits for. Backups come every second.
        made = wait_for(lambda: scheduled() or None, 20, interval=0.5, what="a scheduled backup")
        first = made[0]
        wait_for(
            lambda: first["path"] not in [e["path"] for e in scheduled()],
            30,
            interval=0.5,
            what="the first scheduled backup to be pruned",
        )
        assert len(scheduled()) <= 2
        srv.cli("backup", "schedule", "--off", "--db", str(srv.db))
        info = json.loads(srv.cli("backup", "schedule", "--json", "--db", str(srv.db)).stdout)
        assert info["every"] is None
    for entry in json.loads(run_cli(home, "backup", "list", "--json").stdout):
        assert run_cli(home, "backup", "verify", entry["path"]).returncode == 0
