"""A real database file with two apps, and AppStorage for each."""

import pytest

from fazt.db import Database
from fazt.hosting.deployments import ensure_site
from fazt.storage.bindings import AppStorage


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as database:
        database.write_sync(ensure_site, "app1")
        database.write_sync(ensure_site, "app2")
        yield database


@pytest.fixture
def st(db):
    return AppStorage(db, "app1")


@pytest.fixture
def other(db):
    return AppStorage(db, "app2")
