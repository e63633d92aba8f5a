import pytest

from fazt.auth import passwords
from fazt.db import Database


@pytest.fixture
def db(tmp_path):
    """A database with one dashboard user, ann, for the session tests."""
    with Database.open(tmp_path / "data.db") as database:
        database.write_sync(passwords.set_credentials, "ann", passwords.hash_password("x" * 8))
        yield database
