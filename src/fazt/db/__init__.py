"""The one SQLite file: connections, the single writer, migrations."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fazt.db.database import Database, SchemaTooNewError

__all__ = ["Database", "SchemaTooNewError"]


def __getattr__(name: str):
    # Imported on first use: client-side commands that only need db.connection stay quick.
    if name in __all__:
        from fazt.db import database

        return getattr(database, name)
    raise AttributeError(name)
