// GET /api/visits: the count. POST /api/visits: count one more visit.
// Storage calls return Promises: await them (docs/serverless.md).
module.exports = async function (req) {
  const kv = fazt.storage.kv;
  let visits = (await kv.get("visits")) || 0;
  if (req.method === "POST") {
    visits += 1;
    await kv.set("visits", visits);
    fazt.log.info("visit", visits);
  } else if (req.method !== "GET") {
    return respond(405, { error: "use GET or POST" });
  }
  return { visits };
};
