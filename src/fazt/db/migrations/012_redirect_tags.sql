-- Redirect tags (fazt v0.9's "tags": ["launch", "email"]), kept as a JSON list of strings
-- so that a tag may hold any character; '[]' for a redirect without tags.
ALTER TABLE redirects ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
