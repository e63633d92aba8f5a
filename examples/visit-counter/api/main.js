// The v0.9 layout: main.js answers every /api request; its last line is the response.
async function handler(req) {
  let visits = (await fazt.storage.kv.get("visits")) || 0;
  if (req.method === "POST" && req.path === "/api/hit") {
    visits += 1;
    await fazt.storage.kv.set("visits", visits);
  }
  return { visits };
}
handler(request);
