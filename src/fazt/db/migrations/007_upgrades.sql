-- Upgrades started through the API: progress and outcome, readable by old and new worker.
CREATE TABLE upgrades (
  id           TEXT PRIMARY KEY,
  status       TEXT NOT NULL,
  from_version TEXT NOT NULL,
  to_version   TEXT NOT NULL,
  message      TEXT NOT NULL DEFAULT '',
  steps        TEXT NOT NULL DEFAULT '[]',  -- JSON list of {at, step, message}
  started_at   TEXT NOT NULL,
  finished_at  TEXT
);
CREATE INDEX upgrades_started ON upgrades (started_at);
