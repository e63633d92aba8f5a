-- HTTPS: the ACME account, issued certificates and the state of issuance (fazt.https).
-- Private keys live here (the database is the one file to back up) and nowhere else but
-- the worker's private runtime files; they are never logged or returned by the API.

-- One ACME account per CA directory URL.
CREATE TABLE acme_accounts (
  directory  TEXT PRIMARY KEY,
  key_pem    TEXT NOT NULL,
  uri        TEXT,                        -- the account URL, once registered
  created_at TEXT NOT NULL
);

-- Issued certificates; the newest row is the one served. A few older ones are kept.
CREATE TABLE certificates (
  id         INTEGER PRIMARY KEY,
  names      TEXT NOT NULL,               -- JSON list of the DNS names (SANs)
  cert_pem   TEXT NOT NULL,               -- leaf + chain
  key_pem    TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after  TEXT NOT NULL,
  directory  TEXT NOT NULL,
  issued_at  TEXT NOT NULL
);

-- HTTP-01 answers in flight, shared by every worker behind the port-80 listener.
CREATE TABLE acme_challenges (
  token             TEXT PRIMARY KEY,
  key_authorization TEXT NOT NULL,
  created_at        TEXT NOT NULL
);

-- One row: the last issuance attempt, the retry schedule, and which worker holds the
-- issuance lease (so two workers during a handover never order at the same time).
CREATE TABLE certificate_status (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  failures        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  last_error_at   TEXT,
  next_attempt_at TEXT,
  last_success_at TEXT,
  lease_owner     TEXT,
  lease_until     TEXT
);

-- Names whose validation failed (e.g. DNS not pointing here), retried with backoff on their
-- own so one bad custom domain does not hold back certificates for the other names.
CREATE TABLE certificate_name_failures (
  name            TEXT PRIMARY KEY,
  error           TEXT NOT NULL,
  failures        INTEGER NOT NULL,
  next_attempt_at TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);
