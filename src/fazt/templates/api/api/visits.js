// GET /api/visits: the count. POST /api/visits: count one more visit.
// Storage calls are synchronous: they return the value itself, no await (docs/storage.md).
module.exports = function (req) {
  const kv = fazt.storage.kv;
  let visits = kv.get("visits") || 0;
  if (req.method === "POST") {
    visits += 1;
    kv.set("visits", visits);
    fazt.log.info("visit", visits);
  } else if (req.method !== "GET") {
    return respond(405, { error: "use GET or POST" });
  }
  return { visits };
};
