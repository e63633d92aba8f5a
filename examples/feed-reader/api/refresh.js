// Fetches the feed and keeps its items in kv. Run every 5 minutes by the manifest's cron
// entry; any request to /api/refresh runs it too (the fetch budget bounds how often).
const feed = require("./_feed");

module.exports = function () {
  const url = fazt.env.get("FEED_URL", "https://hnrss.org/frontpage");
  const r = fazt.net.fetch(url, { timeout: 4000, headers: { accept: "application/rss+xml" } });
  if (!r.ok) return respond(502, { error: "the feed answered " + r.status });
  const items = feed.parse(r.body);
  fazt.storage.kv.set("items", { items, fetchedAt: new Date().toISOString() });
  return { count: items.length };
};
