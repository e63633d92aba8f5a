"""The settings schema: validation, the docs' table, and every key the code reads."""

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from fazt.db import Database, setting_schema, settings
from fazt.db.setting_schema import SETTINGS, SettingError, UnknownSetting

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "fazt"
DOC = ROOT / "docs" / "configuration.md"


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "data.db") as db:
        yield db


def stored(db) -> dict[str, str]:
    return dict(db.read_sync(lambda c: c.execute("SELECT key, value FROM settings").fetchall()))


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("port", "0", "an integer from 1 to 65535"),
        ("port", "65536", "an integer from 1 to 65535"),
        ("port", "80.5", "an integer from 1 to 65535"),
        ("edge_exempt_loopback", "yes", "0 or 1"),
        ("https_hsts", "2", "0 or 1"),
        ("http_header_timeout_seconds", "nan", "a number from 1 to 60"),
        ("edge_requests_burst", "0", "a number from 1 to 10_000_000"),
        ("runtime_timeout_ms", "-5", "an integer from 1 to"),
        ("runtime_workers", "many", "an integer from 1 to 256 (or empty)"),
        ("backup_every", "0h", "an interval such as"),
        ("trusted_proxies", "10.0.0.300", "comma-separated IPs or CIDRs"),
        ("release_url", "releases.json", "an http(s) URL or an absolute path"),
        ("domain", "not a domain!", "localhost or a DNS name"),
        ("port", "", "an integer"),  # empty only where the schema allows it
    ],
)
def test_a_bad_value_is_refused_by_name_and_nothing_is_written(db, key, value, allowed):
    before = stored(db)
    with pytest.raises(SettingError) as err:
        db.write_sync(settings.put, key, value)
    assert str(err.value).startswith(f"{key}: expected {allowed}")
    assert repr(value) in str(err.value)
    assert stored(db) == before


def test_an_unknown_key_is_refused_and_is_still_a_key_error(db):
    with pytest.raises(UnknownSetting, match="no_such_key: no such setting") as err:
        db.write_sync(settings.put, "no_such_key", "1")
    assert isinstance(err.value, KeyError)  # what callers caught before the schema
    assert "no_such_key" not in stored(db)


def test_every_key_the_code_reads_can_be_stored(db):
    """Before the schema, put refused the runtime_* and ws_* keys the server reads."""
    db.write_sync(settings.put, "runtime_timeout_ms", "10000")
    db.write_sync(settings.put, "ws_idle_seconds", "60")
    db.write_sync(settings.put, "runtime_workers", "")  # empty: worked out at start
    assert db.read_sync(settings.get_int, "runtime_timeout_ms") == 10000
    assert db.read_sync(settings.get_float, "ws_idle_seconds") == 60.0
    assert db.read_sync(settings.get, "runtime_workers") == ""
    assert db.read_sync(settings.get_bool, "edge_exempt_loopback") is True


def test_values_are_stored_in_their_canonical_form(db):
    db.write_sync(settings.put, "trusted_proxies", " 10.0.0.1, 192.168.0.0/16 ")
    db.write_sync(settings.put, "domain", "Sites.Example.")
    db.write_sync(settings.put, "port", " 8080 ")
    values = stored(db)
    assert values["trusted_proxies"] == "10.0.0.1/32,192.168.0.0/16"
    assert (values["domain"], values["port"]) == ("sites.example", "8080")


def test_every_default_is_allowed_by_its_own_setting():
    for s in SETTINGS:
        assert s.check(s.default) == s.default, s.name
        assert s.doc and s.type in setting_schema.CHECKS, s.name
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert {s.name: s.default for s in SETTINGS} == settings.DEFAULTS


def test_schema_defaults_and_ranges_match_the_readers():
    """The readers keep their own fallbacks: they must agree with the schema."""
    from fazt.realtime.hub import Limits as WsLimits
    from fazt.runtime.limits import RuntimeConfig
    from fazt.server.edge import RANGES, EdgeLimits

    defaults = settings.DEFAULTS
    for f in fields(EdgeLimits):
        value = f.default
        text = ("1" if value else "0") if isinstance(value, bool) else value
        assert float(defaults[f.name]) == float(text), f.name
    for key, (low, high) in RANGES.items():
        assert (setting_schema.lookup(key).low, setting_schema.lookup(key).high) == (low, high)
    runtime = RuntimeConfig.from_settings(defaults)
    assert runtime == RuntimeConfig(), "the schema's runtime defaults change the runtime"
    ws = WsLimits.from_settings(defaults)
    assert ws == WsLimits(), "the schema's ws defaults change the hub"
    assert float(defaults["ws_idle_seconds"]) == WsLimits().idle_seconds


# -- docs/configuration.md ---------------------------------------------------------------------


def documented() -> dict[str, tuple[str, str]]:
    """key -> (default, applied) from the settings table of docs/configuration.md."""
    rows: dict[str, tuple[str, str]] = {}
    in_table = False
    for line in DOC.read_text().splitlines():
        if line.startswith("| key | default | applied |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if not in_table or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        key = cells[0].strip("`")
        assert key not in rows, f"{key} documented twice"
        match = re.match(r"`([^`]*)`", cells[1])
        if match:
            default = match.group(1)
        else:
            assert cells[1].startswith("empty"), f"{key}: default {cells[1]!r}"
            default = ""
        rows[key] = (default, cells[2])
    assert rows, "the settings table of docs/configuration.md was not found"
    return rows


def test_the_docs_table_lists_every_setting_with_its_default_and_restart():
    docs = documented()
    schema = {s.name: (s.default, "restart" if s.restart else "live") for s in SETTINGS}
    assert sorted(set(schema) - set(docs)) == [], "settings missing from the docs"
    assert sorted(set(docs) - set(schema)) == [], "documented keys that are not settings"
    wrong = {k: (docs[k], schema[k]) for k in schema if docs[k] != schema[k]}
    assert wrong == {}, "(documented, schema) default and applied differ"


# -- every key the code reads ------------------------------------------------------------------

READERS = {"get", "get_int", "get_float", "get_bool", "saved", "put"}
HELPERS = {"num", "_positive"}  # local parsers of a settings dict (runtime, realtime, auth)
DICTS = {"values", "v"}  # the name the code gives to the dict of all_settings


def _strings(nodes) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_reader(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in READERS
        and isinstance(node.value, ast.Name)
        and node.value.id == "settings"
    )


def keys_read(tree: ast.AST) -> set[str]:
    """String keys passed to the settings readers, or looked up in a dict of settings."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if _is_reader(func):  # settings.get(conn, "key")
                found.update(_strings(node.args[1:2]))
            for i, arg in enumerate(node.args):  # db.read(settings.get, "key")
                if _is_reader(arg):
                    found.update(_strings(node.args[i + 1 : i + 2]))
            if isinstance(func, ast.Name) and func.id in HELPERS:  # num("key", default)
                found.update(s for s in _strings(node.args) if "_" in s)
            if (  # values.get("key", ...)
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and isinstance(func.value, ast.Name)
                and func.value.id in DICTS
            ):
                found.update(_strings(node.args[:1]))
        if (  # values["key"]
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in DICTS
        ):
            found.update(_strings([node.slice]))
    return found


def all_keys_read() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "db":
            continue
        for key in keys_read(ast.parse(path.read_text(), str(path))):
            where.setdefault(key, []).append(str(path.relative_to(SRC)))
    return where


def test_every_key_the_code_reads_is_in_the_schema():
    where = all_keys_read()
    # The walk must see the readers of every kind, or it proves nothing.
    for key in ("port", "history_limit", "runtime_timeout_ms", "ws_idle_seconds", "https_hsts"):
        assert key in where, f"the walk no longer finds {key}"
    from fazt.server.edge import EdgeLimits  # read by field name

    read = set(where) | {f.name for f in fields(EdgeLimits)}
    unknown = {k: where.get(k) for k in read if k not in setting_schema.BY_NAME}
    assert unknown == {}, "keys read by the code but missing from the schema"


def test_every_setting_is_read_somewhere():
    """A setting nobody reads would be a knob that does nothing."""
    from fazt.server.edge import EdgeLimits

    read = set(all_keys_read()) | {f.name for f in fields(EdgeLimits)}
    assert sorted(s.name for s in SETTINGS if s.name not in read) == []


def test_the_walk_finds_a_key_missing_from_the_schema():
    source = 'settings.get(conn, "made_up_key")\nvalues["other_key"]\nnum("third_key", 1)'
    assert keys_read(ast.parse(source)) == {"made_up_key", "other_key", "third_key"}
