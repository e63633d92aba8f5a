-- Analytics, redirects, inbound webhooks and request metrics (fazt.analytics).
-- Privacy: no IP address and no cookie is ever stored. A visitor is a hash of a random
-- salt that rotates daily (old salts are deleted), the site, the IP and the user agent.

-- One row per counted hit. `time` is unix seconds (UTC).
CREATE TABLE analytics_events (
  id       INTEGER PRIMARY KEY,
  time     INTEGER NOT NULL,
  site     TEXT NOT NULL,
  kind     TEXT NOT NULL CHECK (kind IN ('pageview', 'event', 'pixel', 'redirect')),
  name     TEXT NOT NULL DEFAULT '',   -- event name, pixel source or redirect slug
  path     TEXT NOT NULL DEFAULT '',
  referrer TEXT NOT NULL DEFAULT '',   -- the referring host only, '' when internal
  browser  TEXT NOT NULL DEFAULT '',
  os       TEXT NOT NULL DEFAULT '',
  device   TEXT NOT NULL DEFAULT '',
  visitor  TEXT NOT NULL DEFAULT ''    -- salted hash, see above
);
-- Only pruning searches events (the dashboard reads the rollups below): one index.
CREATE INDEX analytics_events_time ON analytics_events(time);

-- Daily rollups, kept up to date as events are written: the dashboard reads these, not
-- the events. `visitors` counts a visitor once per site and day (the salt rotates daily).
CREATE TABLE analytics_daily (
  day       TEXT NOT NULL,               -- YYYY-MM-DD (UTC)
  site      TEXT NOT NULL,
  pageviews INTEGER NOT NULL DEFAULT 0,  -- pageviews and pixel hits
  visitors  INTEGER NOT NULL DEFAULT 0,
  events    INTEGER NOT NULL DEFAULT 0,  -- custom events
  PRIMARY KEY (day, site)
) WITHOUT ROWID;

-- Per-day counts by dimension. page/referrer: pageviews; browser/os/device: visitors.
-- Keyed (dim, day, ...) so a period's top list is one contiguous, covering range scan;
-- the second index does the same for one site.
CREATE TABLE analytics_daily_dims (
  dim   TEXT NOT NULL CHECK (dim IN ('page', 'referrer', 'browser', 'os', 'device')),
  day   TEXT NOT NULL,
  site  TEXT NOT NULL,
  value TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (dim, day, site, value)
) WITHOUT ROWID;
CREATE INDEX analytics_daily_dims_site ON analytics_daily_dims(site, dim, day, value, count);

-- Visitors already counted per site and day; only today's and yesterday's are kept.
CREATE TABLE analytics_visitors (
  day     TEXT NOT NULL,
  site    TEXT NOT NULL,
  visitor TEXT NOT NULL,
  PRIMARY KEY (day, site, visitor)
) WITHOUT ROWID;

-- The daily salts; deleting a salt makes that day's hashes unlinkable to anyone.
CREATE TABLE analytics_salts (
  day  TEXT PRIMARY KEY,
  salt BLOB NOT NULL
);

-- Requests served and 5xx errors, per hour ('YYYY-MM-DDTHH:00:00Z').
CREATE TABLE request_metrics (
  hour     TEXT PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0,
  errors   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Short links on the dashboard host: /r/<slug> -> 302 to url.
CREATE TABLE redirects (
  id         INTEGER PRIMARY KEY,
  slug       TEXT NOT NULL UNIQUE,
  url        TEXT NOT NULL,
  clicks     INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);

-- Inbound webhooks: POST /webhook/<name>. The secret is the HMAC key the sender shares
-- with us, so it has to be kept as is (it is never returned by the API nor logged).
-- NULL: the webhook accepts unsigned payloads (stored with verified = 0).
CREATE TABLE webhooks (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  secret     TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE webhook_events (
  id          INTEGER PRIMARY KEY,
  webhook_id  INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  received_at TEXT NOT NULL,
  verified    INTEGER NOT NULL,
  event       TEXT NOT NULL DEFAULT '',
  headers     TEXT NOT NULL DEFAULT '{}',  -- a JSON object of a few informative headers
  payload     TEXT NOT NULL
);
CREATE INDEX webhook_events_webhook ON webhook_events(webhook_id, id);
