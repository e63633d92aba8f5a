-- App storage for serverless apps (fazt.storage.kv / ds / s3). Every row belongs to an
-- app (a site); deleting the site deletes its storage (ON DELETE CASCADE).
-- Timestamps are UTC ISO-8601 strings ("...Z"), which sort and compare as text.

-- Key-value pairs. value is JSON text. expires_at NULL = never expires; a row whose
-- expires_at <= now is invisible to reads and removed by the next write or sweep.
CREATE TABLE app_kv (
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  expires_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, key)
);
CREATE INDEX app_kv_expires ON app_kv(expires_at) WHERE expires_at IS NOT NULL;

-- Documents. data is a canonical JSON object (sorted keys) without id/_createdAt/
-- _updatedAt, which live in their own columns. The rowid gives a stable insertion order.
CREATE TABLE app_documents (
  seq        INTEGER PRIMARY KEY,
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (app, collection, id)
);
CREATE INDEX app_documents_collection ON app_documents(app, collection, seq);

-- Objects (blobs) by path, stored inline. (Rowid tables, not WITHOUT ROWID: rows can be
-- large, up to the value and object size limits.)
CREATE TABLE app_objects (
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  path       TEXT NOT NULL,
  data       BLOB NOT NULL,
  mime       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, path)
);
