-- User-scoped storage (issue 21 item 2): fazt.storage.user.kv / ds / s3, the rows of one
-- signed-in visitor of one app (storage/scope.py). Their own tables, so the app's own
-- storage (app_kv, ...) never sees them nor they it. Every row belongs to an app_users
-- row: deleting the visitor's account, or the app, deletes their data (ON DELETE CASCADE).

CREATE TABLE user_kv (
  app        TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  expires_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, user_id, key),
  FOREIGN KEY (app, user_id) REFERENCES app_users(app, id) ON DELETE CASCADE
);
CREATE INDEX user_kv_expires ON user_kv(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE user_documents (
  seq        INTEGER PRIMARY KEY,
  app        TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  collection TEXT NOT NULL,
  id         TEXT NOT NULL,
  data       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (app, user_id, collection, id),
  FOREIGN KEY (app, user_id) REFERENCES app_users(app, id) ON DELETE CASCADE
);
CREATE INDEX user_documents_collection ON user_documents(app, user_id, collection, seq);

CREATE TABLE user_objects (
  app        TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  path       TEXT NOT NULL,
  data       BLOB NOT NULL,
  mime       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, user_id, path),
  FOREIGN KEY (app, user_id) REFERENCES app_users(app, id) ON DELETE CASCADE
);

-- What each visitor's rows take (bytes of keys, names and values; rows), kept by the
-- triggers below so a quota check is one row read (storage/user_quota.py).
CREATE TABLE user_storage_usage (
  app     TEXT NOT NULL,
  user_id TEXT NOT NULL,
  bytes   INTEGER NOT NULL DEFAULT 0,
  items   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app, user_id),
  FOREIGN KEY (app, user_id) REFERENCES app_users(app, id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TRIGGER user_kv_added AFTER INSERT ON user_kv BEGIN
  INSERT INTO user_storage_usage (app, user_id, bytes, items)
  VALUES (NEW.app, NEW.user_id,
          length(CAST(NEW.key AS BLOB)) + length(CAST(NEW.value AS BLOB)), 1)
  ON CONFLICT (app, user_id) DO UPDATE SET
    bytes = bytes + excluded.bytes, items = items + 1;
END;
CREATE TRIGGER user_kv_changed AFTER UPDATE ON user_kv BEGIN
  UPDATE user_storage_usage SET bytes = bytes
    - length(CAST(OLD.key AS BLOB)) - length(CAST(OLD.value AS BLOB))
    + length(CAST(NEW.key AS BLOB)) + length(CAST(NEW.value AS BLOB))
  WHERE app = NEW.app AND user_id = NEW.user_id;
END;
CREATE TRIGGER user_kv_removed AFTER DELETE ON user_kv BEGIN
  UPDATE user_storage_usage SET items = items - 1, bytes = bytes
    - length(CAST(OLD.key AS BLOB)) - length(CAST(OLD.value AS BLOB))
  WHERE app = OLD.app AND user_id = OLD.user_id;
END;

CREATE TRIGGER user_documents_added AFTER INSERT ON user_documents BEGIN
  INSERT INTO user_storage_usage (app, user_id, bytes, items)
  VALUES (NEW.app, NEW.user_id, length(CAST(NEW.collection AS BLOB))
          + length(CAST(NEW.id AS BLOB)) + length(CAST(NEW.data AS BLOB)), 1)
  ON CONFLICT (app, user_id) DO UPDATE SET
    bytes = bytes + excluded.bytes, items = items + 1;
END;
CREATE TRIGGER user_documents_changed AFTER UPDATE ON user_documents BEGIN
  UPDATE user_storage_usage SET bytes = bytes
    - length(CAST(OLD.collection AS BLOB)) - length(CAST(OLD.id AS BLOB))
    - length(CAST(OLD.data AS BLOB))
    + length(CAST(NEW.collection AS BLOB)) + length(CAST(NEW.id AS BLOB))
    + length(CAST(NEW.data AS BLOB))
  WHERE app = NEW.app AND user_id = NEW.user_id;
END;
CREATE TRIGGER user_documents_removed AFTER DELETE ON user_documents BEGIN
  UPDATE user_storage_usage SET items = items - 1, bytes = bytes
    - length(CAST(OLD.collection AS BLOB)) - length(CAST(OLD.id AS BLOB))
    - length(CAST(OLD.data AS BLOB))
  WHERE app = OLD.app AND user_id = OLD.user_id;
END;

CREATE TRIGGER user_objects_added AFTER INSERT ON user_objects BEGIN
  INSERT INTO user_storage_usage (app, user_id, bytes, items)
  VALUES (NEW.app, NEW.user_id, length(CAST(NEW.path AS BLOB)) + NEW.size, 1)
  ON CONFLICT (app, user_id) DO UPDATE SET
    bytes = bytes + excluded.bytes, items = items + 1;
END;
CREATE TRIGGER user_objects_changed AFTER UPDATE ON user_objects BEGIN
  UPDATE user_storage_usage SET bytes = bytes
    - length(CAST(OLD.path AS BLOB)) - OLD.size + length(CAST(NEW.path AS BLOB)) + NEW.size
  WHERE app = NEW.app AND user_id = NEW.user_id;
END;
CREATE TRIGGER user_objects_removed AFTER DELETE ON user_objects BEGIN
  UPDATE user_storage_usage SET items = items - 1,
    bytes = bytes - length(CAST(OLD.path AS BLOB)) - OLD.size
  WHERE app = OLD.app AND user_id = OLD.user_id;
END;
