// The layout of the original fazt v0.9: main.js answers every /api request; its last line is the response.
function handler(req) {
  let visits = fazt.storage.kv.get("visits") || 0;
  if (req.method === "POST" && req.path === "/api/hit") {
    visits += 1;
    fazt.storage.kv.set("visits", visits);
  }
  return { visits };
}
handler(request);
