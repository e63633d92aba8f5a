-- API keys limited to named sites (fazt.auth.tokens). NULL: the key may act on every
-- site, as before; otherwise a comma-separated, sorted list of site names. A site-limited
-- key is refused on every server-wide endpoint whatever its scopes (fazt.api.access).
ALTER TABLE api_keys ADD COLUMN sites TEXT;
