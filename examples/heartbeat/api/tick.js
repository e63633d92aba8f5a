// Run by fazt every 5 minutes (manifest.json "cron"). A scheduled run carries the
// x-fazt-cron header, which fazt drops from every outside request: visitors get a 403.
module.exports = function (req) {
  if (!req.headers["x-fazt-cron"]) return respond(403, { error: "only the scheduler ticks" });
  const config = fazt.private.json("config.json");  // private/: never served, read here
  const ticks = (fazt.storage.kv.get("ticks") || 0) + 1;
  const recent = [new Date().toISOString(), ...(fazt.storage.kv.get("recent") || [])];
  fazt.storage.kv.set("ticks", ticks);
  fazt.storage.kv.set("recent", recent.slice(0, config.keep));
  return { ticks };
};
