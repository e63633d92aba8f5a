-- A deployment's own URL (<site>--<preview_id>.<domain>) names it by a random id, never
-- by its sequential number, so that deployment URLs cannot be enumerated; a site can turn
-- those URLs off.
ALTER TABLE deployments ADD COLUMN preview_id TEXT;
UPDATE deployments SET preview_id = lower(hex(randomblob(10)));
CREATE UNIQUE INDEX deployments_preview_id ON deployments(preview_id);
ALTER TABLE sites ADD COLUMN previews INTEGER NOT NULL DEFAULT 1;
