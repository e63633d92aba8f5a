// GET /api/entries: the published entries, and the signed-in visitor's own drafts.
// POST /api/entries {text, draft}: sign-in required (fazt.auth.requireUser answers 401).
// Published entries are the app's (fazt.storage.ds); drafts are the visitor's own
// (fazt.storage.user.ds): fazt scopes them to whoever is signed in, so no query of this
// code, right or wrong, can return another visitor's drafts.
// The sign-in provider is the env var SIGNIN_PROVIDER (`fazt app env set guestbook
// SIGNIN_PROVIDER corp`); "dev" works on *.localhost for local development.
const MAX_TEXT = 500;

module.exports = function (req) {
  const { ds } = fazt.storage;
  const mine = fazt.storage.user.ds; // throws AUTH_REQUIRED (401) when nobody is signed in
  if (req.method === "GET") {
    const user = fazt.auth.user();
    const provider = fazt.env.get("SIGNIN_PROVIDER", "dev");
    const published = ds.find("entries", { draft: false }, { sort: { at: -1 }, limit: 50 });
    const drafts = user ? mine.find("drafts", {}, { sort: { at: -1 } }) : [];
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
  const draft = body.draft === true;
  const entry = { text, draft, author: user.name || "someone", at: Date.now() };
  // a draft counts against the visitor's quota (user_storage_max_bytes): past it, 413
  if (draft) {
    try {
      return respond(201, show({ id: mine.insert("drafts", entry), ...entry }));
    } catch (e) {
      if (String(e.message).startsWith("USER_QUOTA_EXCEEDED")) return respond(413, { error: "your drafts are full" });
      throw e;
    }
  }
  const id = ds.insert("entries", { ...entry, owner: user.id });
  return respond(201, show({ id, ...entry }));
};

function show(e) {
  return { id: e.id, text: e.text, author: e.author, draft: e.draft, at: e.at };
}
