"""The upgrade page shows the latest upgrade with its steps (static/upgrade.js follows it
in the browser: tests/browser/test_dashboard_tools_browser.py)."""

import json
import sqlite3

from tests.conftest import running_server
from tests.integration.test_auth_sessions import Browser


def add_upgrade(db, upgrade_id: str, status: str, steps: list[str], finished: bool) -> None:
    rows = [
        {"at": f"2026-03-01T10:00:0{i}.000000Z", "step": s, "message": f"did {s}"}
        for i, s in enumerate(steps)
    ]
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "INSERT INTO upgrades (id, status, from_version, to_version, message, steps,"
                " started_at, finished_at) VALUES (?, ?, '1.0.0', '1.1.0', ?, ?, ?, ?)",
                (
                    upgrade_id,
                    status,
                    f"now {status}",
                    json.dumps(rows),
                    "2026-03-01T10:00:00.000000Z",
                    "2026-03-01T10:01:00.000000Z" if finished else None,
                ),
            )
    finally:
        conn.close()


def test_the_upgrade_page_shows_the_latest_upgrade_and_its_steps(tmp_path):
    with running_server(tmp_path / "home") as server:
        _check(server)


def _check(server) -> None:
    admin = Browser(server)
    try:
        assert admin.login().status_code == 303
        page = admin.get("/upgrade").text
        assert 'id="upgrade-progress" aria-labelledby="h-progress" hidden' in page
        add_upgrade(server.db, "up_abc", "committed", ["pending", "downloaded", "committed"], True)
        page = admin.get("/upgrade").text
        assert "Upgrade 1.0.0 → 1.1.0" in page and 'data-id="up_abc"' in page
        assert page.index("downloaded") < page.index("did committed")
        assert 'data-finished="yes"' in page
    finally:
        admin.close()
