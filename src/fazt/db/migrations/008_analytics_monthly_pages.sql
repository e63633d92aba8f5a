-- Page counts per month beside the daily ones: the all-sites "top pages" over a long span
-- reads one row per page and month instead of one per page and day (365 days, 100 sites,
-- 1M events: 770k daily rows; see docs/analytics.md). Kept up to date with the daily
-- rollups; pruned with them (the month the retention cutoff falls in is recounted from
-- the daily rows it still has).
CREATE TABLE analytics_monthly_pages (
  month TEXT NOT NULL,               -- YYYY-MM (UTC)
  site  TEXT NOT NULL,
  path  TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (month, site, path)
) WITHOUT ROWID;

INSERT INTO analytics_monthly_pages (month, site, path, count)
SELECT substr(day, 1, 7), site, value, SUM(count) FROM analytics_daily_dims
WHERE dim = 'page'
GROUP BY substr(day, 1, 7), site, value;
