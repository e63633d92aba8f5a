"""A fazt v0.9 `data.db`, built from the reference's description of its schema
(reference/server.md §7, runtime-storage.md §3) with realistic rows, for the tests of
`fazt migrate-v09`. Nothing here comes from v0.9's code."""

import hashlib
import sqlite3
from functools import cache
from pathlib import Path

import bcrypt

SCHEMA = """
CREATE TABLE migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER UNIQUE NOT NULL,
  name TEXT NOT NULL, applied_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, domain TEXT NOT NULL, tags TEXT,
  source_type TEXT NOT NULL, event_type TEXT NOT NULL, path TEXT, referrer TEXT,
  user_agent TEXT, ip_address TEXT, query_params TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_events_domain ON events(domain);
CREATE TABLE redirects (id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT UNIQUE NOT NULL,
  destination TEXT NOT NULL, tags TEXT, click_count INTEGER DEFAULT 0,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE webhooks (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
  endpoint TEXT UNIQUE NOT NULL, secret TEXT, is_active BOOLEAN DEFAULT 1,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER
  REFERENCES events(id), notification_type TEXT NOT NULL, message TEXT NOT NULL,
  sent_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
  key_hash TEXT NOT NULL, scopes TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  last_used_at DATETIME);
CREATE TABLE kv_store (site_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (site_id, key));
CREATE TABLE deployments (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL,
  size_bytes INTEGER, file_count INTEGER, deployed_by TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE env_vars (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL,
  name TEXT NOT NULL, value TEXT NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (site_id, name));
CREATE TABLE files (site_id TEXT NOT NULL, path TEXT NOT NULL, content BLOB,
  size_bytes INTEGER NOT NULL, mime_type TEXT, hash TEXT NOT NULL,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP, updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (site_id, path));
CREATE TABLE certificates (key TEXT PRIMARY KEY, value BLOB,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE site_logs (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL,
  level TEXT NOT NULL, message TEXT NOT NULL, created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE configurations (key TEXT PRIMARY KEY, value TEXT NOT NULL,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE apps (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT DEFAULT 'deploy',
  manifest TEXT, created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE app_kv (app_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, expires_at INTEGER,
  created_at INTEGER DEFAULT (strftime('%s','now')),
  updated_at INTEGER DEFAULT (strftime('%s','now')), PRIMARY KEY (app_id, key));
CREATE TABLE app_docs (app_id TEXT NOT NULL, collection TEXT NOT NULL, id TEXT NOT NULL,
  data TEXT NOT NULL, created_at INTEGER, updated_at INTEGER,
  PRIMARY KEY (app_id, collection, id));
CREATE TABLE app_blobs (app_id TEXT NOT NULL, path TEXT NOT NULL, data BLOB NOT NULL,
  mime_type TEXT NOT NULL, size_bytes INTEGER NOT NULL, hash TEXT NOT NULL,
  created_at INTEGER, updated_at INTEGER, PRIMARY KEY (app_id, path));
"""

# The legacy runtime's counter (v0.9's examples/counter-app), reading what v0.9 stored.
COUNTER_JS = """
var n = db.get("count") || 0;
n = n + 1;
db.set("count", n);
res.json({count: n, greeting: db.get("greeting"), obj: db.get("obj"),
          env: process.env.GREETING || null, path: req.path});
"""
PNG = bytes(range(256)) * 4 + b"\x89PNG\r\n\x1a\n\x00\xff"  # every byte value
SITE_FILES = {
    "blog": {
        "index.html": b"<!doctype html><h1>My blog</h1>",
        "css/style.css": b"body { color: #333 }",
        "img/logo.png": PNG,
        ".env": b"SECRET=do-not-publish",  # v0.9 served it; this fazt does not publish it
    },
    "counter": {
        "main.js": COUNTER_JS.encode(),
        "index.html": b"<p>never served</p>",
        "style.css": b"body { color: #333 }",  # the same bytes as blog's: one blob
    },
    "Docs": {"index.html": b"<h1>Docs</h1>", "guide/intro.html": b"<h2>Intro</h2>"},
    "admin": {"index.html": b"<html>v0.9 dashboard</html>"},  # v0.9's own dashboard
    "root": {"index.html": b"<h1>My home page</h1>"},  # v0.9 seeded it; the owner edited it
}
# v0.9's tokens: 64 hex characters, stored as bcrypt (cost 10, Go's $2a$ spelling).
V09_TOKENS = {
    "laptop": hashlib.sha256(b"laptop").hexdigest(),
    "ci": hashlib.sha256(b"ci").hexdigest(),
}
V09_ADMIN = ("owner", "v0.9-password")


@cache
def v09_bcrypt(secret: str) -> str:
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(10)).decode().replace("$2b$", "$2a$", 1)


MIGRATIONS = [
    (1, "initial"),
    (2, "api_keys"),
    (3, "env_vars"),
    (4, "vfs"),
    (5, "noop"),
    (6, "configurations"),
    (7, "apps"),
    (9, "peers"),
    (10, "app_storage"),
]
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_v09_db(path: Path) -> Path:
    """Create a v0.9-shaped data.db at `path` (WAL mode, as v0.9 ran it), closed."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    with conn:
        conn.executemany("INSERT INTO migrations (version, name) VALUES (?, ?)", MIGRATIONS)
        for site, files in SITE_FILES.items():
            for rel, data in files.items():
                conn.execute(
                    "INSERT INTO files (site_id, path, content, size_bytes, mime_type, hash) "
                    "VALUES (?, ?, ?, ?, 'text/plain', ?)",
                    (site, rel, data, len(data), sha(data)),
                )
        conn.executemany(
            "INSERT INTO kv_store (site_id, key, value) VALUES (?, ?, ?)",
            [
                ("counter", "count", "41"),
                ("counter", "greeting", "hello"),
                ("counter", "obj", '{"a": 1}'),
                ("gone", "orphan", "x"),
            ],
        )
        conn.executemany(
            "INSERT INTO app_kv (app_id, key, value, expires_at) VALUES (?, ?, ?, ?)",
            [("blog", "cart", '{"items": 2}', None), ("blog", "old", '"x"', 1000)],
        )
        conn.execute(
            "INSERT INTO app_docs (app_id, collection, id, data, created_at, updated_at) "
            "VALUES ('blog', 'posts', 'p1', '{\"title\": \"Hello\"}', 1700000000, 1700000000)"
        )
        conn.execute(
            "INSERT INTO app_blobs (app_id, path, data, mime_type, size_bytes, hash) "
            "VALUES ('blog', 'uploads/a.bin', ?, 'application/octet-stream', 3, ?)",
            (b"\x00\x01\x02", sha(b"\x00\x01\x02")),
        )
        conn.executemany(
            "INSERT INTO env_vars (site_id, name, value) VALUES (?, ?, ?)",
            [("counter", "GREETING", "hi from env"), ("blog", "lower_case", "bad name")],
        )
        conn.executemany(
            "INSERT INTO api_keys (name, key_hash, scopes) VALUES (?, ?, 'deploy')",
            [(name, v09_bcrypt(token)) for name, token in V09_TOKENS.items()],
        )
        conn.executemany(
            "INSERT INTO redirects (slug, destination, tags, click_count, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                ("gh", "https://github.com/fazt-sh", "social,code", 7, "2026-01-05 09:30:00"),
                ("plain", "https://example.org/", "", 0, "2026-01-06 10:00:00"),
                ("bad", "javascript:alert(1)", "x", 2, "2026-01-06 10:00:00"),
            ],
        )
        conn.executemany(
            "INSERT INTO webhooks (name, endpoint, secret, is_active) VALUES (?, ?, ?, ?)",
            [
                ("GitHub deploy", "github-deploy", "s3cret", 1),
                ("Open", "open", "", 1),
                ("Old", "old-hook", "x", 0),
            ],
        )
        conn.executemany(
            "INSERT INTO events (domain, tags, source_type, event_type, path, referrer, "
            "user_agent, ip_address, query_params, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    "blog.example.com",
                    "",
                    "web",
                    "pageview",
                    "/",
                    "https://news.example.net/x",
                    BROWSER,
                    "203.0.113.5",
                    "",
                    "2026-01-10 10:00:00",
                ),
                (
                    "blog.example.com",
                    "",
                    "web",
                    "pageview",
                    "/css",
                    "",
                    BROWSER,
                    "203.0.113.5",
                    "",
                    "2026-01-10 11:00:00.123456789+01:00",
                ),
                (
                    "example.com",
                    "launch",
                    "pixel",
                    "pixel",
                    "/",
                    "",
                    "",
                    "",
                    "",
                    "2026-01-11T08:00:00Z",
                ),
                (
                    "localhost",
                    "social,code",
                    "redirect",
                    "click",
                    "/r/gh",
                    "",
                    BROWSER,
                    "198.51.100.7",
                    "",
                    "2026-01-12 12:00:00",
                ),
                (
                    "github-deploy",
                    "",
                    "webhook",
                    "push",
                    "/webhook/github-deploy",
                    "",
                    "",
                    "",
                    '{"event": "push", "ref": "main"}',
                    "2026-01-12 13:00:00",
                ),
            ],
        )
        conn.executemany(
            "INSERT INTO configurations (key, value) VALUES (?, ?)",
            [
                ("server.domain", "example.com"),
                ("auth.username", V09_ADMIN[0]),
                ("auth.password_hash", v09_bcrypt(V09_ADMIN[1])),
            ],
        )
        conn.execute(
            "INSERT INTO deployments (site_id, size_bytes, file_count, deployed_by) "
            "VALUES ('blog', 10, 3, 'laptop')"
        )
        conn.execute(
            "INSERT INTO site_logs (site_id, level, message) VALUES ('counter', 'info', 'started')"
        )
    conn.close()
    return path
