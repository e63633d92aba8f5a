-- Serverless runtime: per-app environment variables and logs.

-- Values are app configuration (API keys for third-party services, ...): the API only
-- ever lists names; values reach the app's JavaScript through fazt.env.
CREATE TABLE app_env (
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  value      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (app, name)
) WITHOUT ROWID;

-- console.* / fazt.log.* output and runtime errors; only the newest N rows per app are
-- kept (pruned by the writer when a batch is stored).
CREATE TABLE app_logs (
  id         INTEGER PRIMARY KEY,
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  level      TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message    TEXT NOT NULL,
  request_id TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX app_logs_app ON app_logs(app, id);
