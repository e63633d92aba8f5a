// GET /api/scores: the top ten. POST /api/scores {player, score}: record a score.
// Scores are documents; kv with a TTL limits each player to one score every 2 seconds.
// Storage calls are synchronous (docs/storage.md): no await.
const MAX_SCORE = 1000;

module.exports = function (req) {
  const { ds, kv } = fazt.storage;
  if (req.method === "GET") {
    const top = ds.find("scores", {}, { sort: { score: -1 }, limit: 10 });
    return top.map((s) => ({ player: s.player, score: s.score }));
  }
  if (req.method !== "POST") {
    return respond(405, { error: "use GET or POST" });
  }
  const body = req.body || {};
  const player = typeof body.player === "string" ? body.player.trim().slice(0, 24) : "";
  const score = body.score;
  if (!player || !Number.isInteger(score) || score < 0 || score > MAX_SCORE) {
    return respond(400, { error: "send {player: text, score: integer 0-1000}" });
  }
  const limitKey = "recent:" + player;
  if (kv.get(limitKey) !== undefined) {
    return respond(429, { error: "one score every 2 seconds, please" });
  }
  kv.set(limitKey, true, 2000);
  const id = ds.insert("scores", { player, score });
  return respond(201, { id, player, score });
};
