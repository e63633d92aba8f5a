-- Scheduled jobs (manifest.json "cron"): each job's next run and whether it runs now,
-- and a bounded log of its runs (fazt.runtime.jobs).

-- One row per job of a site's live deployment, created when the scheduler first sees
-- it. `running_since` is the claim that keeps a job to one run at a time, across the
-- server workers of a handover too.
CREATE TABLE job_state (
  site          TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  schedule      TEXT NOT NULL,
  next_run      TEXT NOT NULL,
  running_since TEXT,
  PRIMARY KEY (site, name)
) WITHOUT ROWID;

-- The newest runs of each job (older ones are pruned when a run is stored).
CREATE TABLE job_runs (
  id          INTEGER PRIMARY KEY,
  site        TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  started_at  TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('ok', 'error', 'skipped')),
  http_status INTEGER,
  error       TEXT
);
CREATE INDEX job_runs_job ON job_runs(site, name, id);
