-- Outbound HTTP from apps (fazt.net.fetch, runtime/net.py).

-- Allowlist entries set by the operator (`fazt app net allow|deny`), on top of the
-- deployment's manifest.json "net": {"allow": [...]}: a deny entry wins over any allow.
CREATE TABLE app_net_rules (
  app        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  host       TEXT NOT NULL,
  rule       TEXT NOT NULL CHECK (rule IN ('allow', 'deny')),
  created_at TEXT NOT NULL,
  PRIMARY KEY (app, host)
) WITHOUT ROWID;

-- Fetches per app per minute (minute = unix time // 60), counted before each fetch by
-- the JS worker processes together; older rows are deleted as new minutes start.
CREATE TABLE app_net_usage (
  app    TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  minute INTEGER NOT NULL,
  count  INTEGER NOT NULL,
  PRIMARY KEY (app, minute)
) WITHOUT ROWID;

-- A secret env var (`fazt app env set --secret`) never reaches the app's JavaScript as
-- fazt.env: only fazt.net.fetch puts it into a request, for fazt.secret('NAME').
ALTER TABLE app_env ADD COLUMN secret INTEGER NOT NULL DEFAULT 0 CHECK (secret IN (0, 1));
