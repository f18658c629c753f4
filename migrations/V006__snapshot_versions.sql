-- V006__snapshot_versions.sql — a chunk being rewritten stays searchable.
--
-- Until V005, step 1 overwrote a chunk's text in place, so from step 1 to
-- step 3 the chunk had no committed version to serve and vanished from
-- every search. From here on a chunk may have two versions at once:
--
-- 1. `chunks` holds committed versions only: exactly what search serves.
--    Its new `generation` is the committed generation, the only one whose
--    Lance row search accepts for the chunk.
-- 2. `pending_chunks` holds the newest write in flight (at most one per
--    chunk), next to the committed version it will replace. Step 3 moves it
--    into `chunks` in one transaction, so text, metadata and vector switch
--    together. `prev_generation` is the version it supersedes.
-- 3. Lance keeps one row per (chunk_id, generation): step 2 adds the new
--    generation's row beside the committed one. At step 3 the record's
--    `gc_upto` is raised to the superseded generation; GC deletes the
--    chunk's Lance rows up to it, as it does a tombstone's.
-- 4. A document replacement is a write set: its new chunks are committed,
--    and the chunks it removes deleted, in the one step-3 transaction that
--    follows the last of its vectors reaching Lance (`vector_written`), so
--    no search sees neither version of the document, or both.
--
-- The `embedding_records` row keeps describing the chunk's newest write
-- (pending, committed or tombstone), as V003 defined it.

ALTER TABLE chunks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE chunks SET generation = (SELECT e.generation FROM embedding_records e WHERE e.chunk_id = chunks.chunk_id)
 WHERE EXISTS (SELECT 1 FROM embedding_records e WHERE e.chunk_id = chunks.chunk_id);

CREATE TABLE write_sets (
  id         INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  doc_id     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- The chunks a replacement removes, as they were when it was issued: a
-- chunk written again since (a higher generation) is left alone.
CREATE TABLE write_set_removals (
  write_set        INTEGER NOT NULL REFERENCES write_sets(id) ON DELETE CASCADE,
  chunk_id         TEXT NOT NULL,
  up_to_generation INTEGER NOT NULL,
  PRIMARY KEY (write_set, chunk_id)
);

CREATE TABLE pending_chunks (
  chunk_id        TEXT PRIMARY KEY NOT NULL,
  generation      INTEGER NOT NULL UNIQUE,
  collection      TEXT NOT NULL,
  doc_id          TEXT,
  text            TEXT NOT NULL,
  metadata        TEXT NOT NULL CHECK (json_valid(metadata)),
  content_hash    TEXT NOT NULL,
  prev_generation INTEGER,
  write_set       INTEGER REFERENCES write_sets(id),
  vector_written  INTEGER NOT NULL DEFAULT 0 CHECK (vector_written IN (0, 1)),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX idx_pending_doc ON pending_chunks(collection, doc_id);
CREATE INDEX idx_pending_write_set ON pending_chunks(write_set) WHERE write_set IS NOT NULL;

ALTER TABLE embedding_records ADD COLUMN gc_upto INTEGER;
CREATE INDEX idx_embed_gc ON embedding_records(gc_upto) WHERE gc_upto IS NOT NULL;

-- A V005 store's pending writes had already overwritten their chunk's text
-- (there is no committed version left to serve): they move to
-- pending_chunks, and recovery commits them. The Lance row of an older
-- generation, updated in place or not, is superseded from now on. The
-- tombstone trigger is set aside meanwhile: these chunks are not deleted.
DROP TRIGGER chunks_bd_tombstone_embeddings;

INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, write_set, vector_written, created_at, updated_at)
SELECT c.chunk_id, e.generation, c.collection, c.doc_id, c.text, c.metadata, c.content_hash, NULL, NULL, 0, c.created_at, c.updated_at
  FROM chunks c JOIN embedding_records e ON e.chunk_id = c.chunk_id
 WHERE e.status = 'pending';
DELETE FROM chunks WHERE chunk_id IN (SELECT chunk_id FROM pending_chunks);
UPDATE embedding_records SET gc_upto = generation - 1 WHERE status = 'pending';

CREATE TRIGGER chunks_bd_tombstone_embeddings
BEFORE DELETE ON chunks
BEGIN
  UPDATE embedding_records
     SET status = 'tombstone',
         updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER),
         state_changed_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
   WHERE chunk_id = old.chunk_id;
END;
