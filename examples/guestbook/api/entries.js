// GET /api/entries: the published entries, and the signed-in visitor's own drafts.
// POST /api/entries {text, draft}: sign-in required (fazt.auth.requireUser answers 401).
// The sign-in provider is the env var SIGNIN_PROVIDER (`fazt app env set guestbook
// SIGNIN_PROVIDER corp`); "dev" works on *.localhost for local development.
const MAX_TEXT = 500;

module.exports = function (req) {
  const { ds } = fazt.storage;
  if (req.method === "GET") {
    const user = fazt.auth.user();
    const provider = fazt.env.get("SIGNIN_PROVIDER", "dev");
    const published = ds.find("entries", { draft: false }, { sort: { at: -1 }, limit: 50 });
    // Drafts are looked up by their owner's id: one visitor never gets another's.
    const drafts = user ? ds.find("entries", { draft: true, owner: user.id }, { sort: { at: -1 } }) : [];
    return {
      user: user && { name: user.name, email: user.email },
      signIn: "/_fazt/auth/login?provider=" + encodeURIComponent(provider) + "&next=/",
      signOut: "/_fazt/auth/logout?next=/",
      entries: published.map(show),
      drafts: drafts.map(show),
    };
  }
  if (req.method !== "POST") return respond(405, { error: "use GET or POST" });
  const user = fazt.auth.requireUser();
  const body = req.body || {};
  const text = typeof body.text === "string" ? body.text.trim() : "";
  if (!text || text.length > MAX_TEXT) return respond(400, { error: "text: 1-500 characters" });
  const entry = { text, draft: body.draft === true, owner: user.id, author: user.name || "someone", at: Date.now() };
  const id = ds.insert("entries", entry);
  return respond(201, show({ id, ...entry }));
};

function show(e) {
  return { id: e.id, text: e.text, author: e.author, draft: e.draft, at: e.at };
}
