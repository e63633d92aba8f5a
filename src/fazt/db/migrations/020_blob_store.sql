-- Blobs in object storage (`fazt storage offload`, docs/object-storage.md). A blob (or an
-- app's or visitor's object) whose `location` is 'bucket' keeps its metadata here and its bytes in the configured bucket
-- under its sha256 (`data` is empty, no pieces); NULL: the bytes are in SQLite as before.
ALTER TABLE blobs ADD COLUMN location TEXT;
ALTER TABLE app_objects ADD COLUMN location TEXT;
ALTER TABLE user_objects ADD COLUMN location TEXT;

-- What fazt put in the bucket, by sha256 (one object serves every row with that hash).
-- state: 'pending' (an upload may be under way), 'stored' (read back and verified),
-- 'unused' (no row uses it since touched_at: kept a while for older backups), 'deleting'
-- (being deleted from the bucket, then this row goes). An upload
-- first marks its row pending, so the blob GC never deletes an object being uploaded.
CREATE TABLE bucket_objects (
  sha256     TEXT PRIMARY KEY,
  size       INTEGER NOT NULL,
  state      TEXT NOT NULL,
  touched_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX blobs_location ON blobs(location) WHERE location IS NOT NULL;
CREATE INDEX app_objects_sha256 ON app_objects(sha256);
CREATE INDEX user_objects_sha256 ON user_objects(sha256);
