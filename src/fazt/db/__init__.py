"""The one SQLite file: connections, the single writer, migrations."""

from fazt.db.database import Database, SchemaTooNewError

__all__ = ["Database", "SchemaTooNewError"]
