-- API keys imported from the original v0.9 (fazt migrate-v09): v0.9 kept only a bcrypt hash
-- of each token. Such a key's api_keys.token_hash is a placeholder that no token hashes to,
-- until its first successful use, which stores the token's SHA-256 there and drops the row
-- here (auth.legacy_keys).
CREATE TABLE legacy_key_hashes (
  key_id      INTEGER PRIMARY KEY REFERENCES api_keys(id) ON DELETE CASCADE,
  bcrypt_hash TEXT NOT NULL
);
