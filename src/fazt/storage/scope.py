"""Whose storage rows a call reaches: an app's own, or one signed-in visitor's of an app.

kv, documents and objects take an `Owner`: an app name (the app's own rows, in app_kv,
app_documents, app_objects) or a `UserScope` (one visitor's rows, in user_kv,
user_documents, user_objects; migration 019). The two kinds live in different tables, so
no key, path or query of one can name a row of the other, and a user's rows are always
matched on (app, user_id) taken from here, never from what the app passed.
"""

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class UserScope:
    """One signed-in visitor's storage in one app (user: app_users.id)."""

    app: str
    user: str


Owner = str | UserScope

_TABLES = {
    "kv": ("app_kv", "user_kv"),
    "documents": ("app_documents", "user_documents"),
    "objects": ("app_objects", "user_objects"),
}


class Rows(NamedTuple):
    """The SQL pieces that scope a statement to an owner (all constants but `args`)."""

    table: str  # app_kv / user_kv ...
    columns: str  # the owner's columns, for INSERT and ON CONFLICT: "app" / "app, user_id"
    marks: str  # their placeholders: "?" / "?, ?"
    args: tuple  # their values

    def match(self, alias: str = "") -> str:
        """`app = ?` (and `AND user_id = ?`), the columns prefixed with `alias.`."""
        pre = f"{alias}." if alias else ""
        return " AND ".join(f"{pre}{c} = ?" for c in self.columns.split(", "))


def rows(owner: Owner, kind: str) -> Rows:
    """Where `owner`'s rows of `kind` (kv, documents, objects) are."""
    app_table, user_table = _TABLES[kind]
    if isinstance(owner, UserScope):
        return Rows(user_table, "app, user_id", "?, ?", (owner.app, owner.user))
    return Rows(app_table, "app", "?", (owner,))


def app_of(owner: Owner) -> str:
    return owner.app if isinstance(owner, UserScope) else owner
