-- Visitors signing in to apps (issue 21 item 1; auth/visitors.py, api/visitor_auth.py).

-- Sign-in providers, configured once per server (`fazt auth provider add`). The client
-- secret is never returned by the API nor logged.
CREATE TABLE auth_providers (
  name          TEXT PRIMARY KEY,
  kind          TEXT NOT NULL CHECK (kind IN ('oidc', 'google', 'github')),
  issuer        TEXT NOT NULL,
  client_id     TEXT NOT NULL,
  client_secret TEXT NOT NULL,
  scopes        TEXT NOT NULL,
  created_at    TEXT NOT NULL
);

-- Sign-ins started and not finished: the state (stored hashed; one use), the nonce and
-- the PKCE verifier, for a short time.
CREATE TABLE visitor_logins (
  state_hash   TEXT PRIMARY KEY,
  app          TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  provider     TEXT NOT NULL,
  nonce        TEXT NOT NULL,
  verifier     TEXT NOT NULL,
  next         TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);

-- The visitors who signed in to an app, with their role in it.
CREATE TABLE app_users (
  app           TEXT NOT NULL REFERENCES sites(name) ON DELETE CASCADE,
  id            TEXT NOT NULL,  -- '<provider>:<subject>'
  provider      TEXT NOT NULL,
  email         TEXT,
  name          TEXT,
  avatar        TEXT,
  role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('owner', 'admin', 'user')),
  created_at    TEXT NOT NULL,
  last_login_at TEXT NOT NULL,
  PRIMARY KEY (app, id)
) WITHOUT ROWID;

-- Visitor sessions, per app: the cookie carries a random token, only its SHA-256 is here.
CREATE TABLE visitor_sessions (
  token_hash TEXT PRIMARY KEY,
  app        TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  FOREIGN KEY (app, user_id) REFERENCES app_users(app, id) ON DELETE CASCADE
);
CREATE INDEX visitor_sessions_user ON visitor_sessions(app, user_id);
