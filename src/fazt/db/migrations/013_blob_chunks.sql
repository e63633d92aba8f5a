-- Big blobs (above one chunk, 4 MiB) are stored in pieces: one huge row is slow to write
-- in one transaction and SQLite caps a value at ~1 GB. A blob's row keeps its metadata
-- (sha256, size, created_at) so deploys, GC and backups see it as before; `chunk_set`
-- names its pieces (NULL: the bytes are in `data`).
ALTER TABLE blobs ADD COLUMN chunk_set INTEGER;

-- One row per stored piece, keyed by its byte offset in the blob. A rowid table: the
-- pieces are large, and a rowid lets readers open one with incremental BLOB I/O.
CREATE TABLE blob_chunks (
  chunk_set INTEGER NOT NULL,
  start     INTEGER NOT NULL,
  data      BLOB NOT NULL,
  PRIMARY KEY (chunk_set, start)
);

-- A resumable upload of one blob (POST /api/uploads). Its pieces go to blob_chunks under
-- the upload's id as they arrive; when the bytes hash to `sha256` the blob row is written
-- with chunk_set = id. AUTOINCREMENT: an id is never reused, so a finished blob's pieces
-- and a later upload's cannot share a chunk_set.
CREATE TABLE uploads (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  site        TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  size        INTEGER NOT NULL,
  received    INTEGER NOT NULL DEFAULT 0,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX uploads_site ON uploads(site);
CREATE INDEX uploads_updated ON uploads(updated_at);

-- Whatever deletes a blob (GC, a deleted site) or an upload (expired, finished into a
-- blob that already existed) deletes its pieces.
CREATE TRIGGER blobs_drop_chunks AFTER DELETE ON blobs WHEN old.chunk_set IS NOT NULL
BEGIN
  DELETE FROM blob_chunks WHERE chunk_set = old.chunk_set;
END;
