-- fazt schema, version 1. Timestamps are UTC ISO-8601 strings ("...Z").

CREATE TABLE schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TEXT NOT NULL
);

-- Server settings (domain, port, limits). Never secrets.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,            -- argon2id
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

-- API keys: only a SHA-256 of the token is stored; the token is shown once.
CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  prefix       TEXT NOT NULL,             -- first characters, to recognise a key in lists
  scopes       TEXT NOT NULL,             -- comma-separated
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
);

-- Content-addressed file bytes, stored once per sha256.
CREATE TABLE blobs (
  sha256     TEXT PRIMARY KEY,
  size       INTEGER NOT NULL,
  data       BLOB NOT NULL,
  created_at TEXT NOT NULL
);

-- Compressed variants (gzip, br) of a blob, computed once on first request.
CREATE TABLE blob_variants (
  sha256   TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
  encoding TEXT NOT NULL,
  data     BLOB NOT NULL,
  PRIMARY KEY (sha256, encoding)
) WITHOUT ROWID;

CREATE TABLE sites (
  name               TEXT PRIMARY KEY,
  kind               TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'system')),
  live_deployment_id INTEGER,
  created_at         TEXT NOT NULL,
  updated_at         TEXT NOT NULL
);

-- Immutable once ready. A pending deployment is an upload in progress.
CREATE TABLE deployments (
  id           INTEGER PRIMARY KEY,
  site         TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
  file_count   INTEGER NOT NULL,
  size_bytes   INTEGER NOT NULL,
  manifest     TEXT NOT NULL DEFAULT '{}',
  deployed_by  TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  finalized_at TEXT,
  live_at      TEXT                       -- last time this deployment was made live
);
CREATE INDEX deployments_site ON deployments(site, id);

CREATE TABLE deployment_files (
  deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
  path          TEXT NOT NULL,
  sha256        TEXT NOT NULL,
  size          INTEGER NOT NULL,
  mime          TEXT NOT NULL,
  PRIMARY KEY (deployment_id, path)
) WITHOUT ROWID;
CREATE INDEX deployment_files_sha256 ON deployment_files(sha256);

CREATE TABLE domains (
  domain     TEXT PRIMARY KEY,
  site       TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  created_at TEXT NOT NULL
);
