-- V004__durable_tombstones.sql — finish the deletion pipeline V003 queued.
--
-- 1. Rebuild `embedding_records` without V001's `ON DELETE CASCADE` so the
--    tombstone written by the BEFORE DELETE trigger survives the chunk
--    delete. SQLite has no DROP CONSTRAINT, hence the table rebuild. The new
--    table keeps no reference to `chunks` at all: a plain FK (NO ACTION)
--    with enforcement on would make the chunk delete itself fail.
-- 2. Add `generation`: every write of a chunk gets a new, store-wide,
--    strictly increasing number allocated in phase 1. It is stored in the
--    Lance row too; search joins on (chunk_id, generation), the Lance
--    MergeInsert only replaces an older generation, phase 3 is a
--    compare-and-set on (chunk_id, generation), and GC deletes
--    `generation <= G`. Together these keep reads and GC correct whatever
--    Lance holds (stale, leading or duplicate rows).
-- 3. `state_changed_at` lets status report the oldest pending record and GC
--    find tombstones older than a period.

-- The trigger names embedding_records; drop it first so the rebuild (and
-- SQLite's schema check during the rename) never sees a dangling reference.
DROP TRIGGER chunks_bd_tombstone_embeddings;

CREATE TABLE embedding_records_v4 (
  chunk_id         TEXT PRIMARY KEY NOT NULL,
  model            TEXT NOT NULL,
  dimension        INTEGER NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending','committed','tombstone')),
  vector_committed INTEGER NOT NULL DEFAULT 0 CHECK (vector_committed IN (0, 1)),
  generation       INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  state_changed_at INTEGER NOT NULL
);

-- Existing rows keep their status; rowid order gives them distinct,
-- increasing generations. Recovery re-embeds any committed record whose
-- vector is missing from Lance, so an upgraded store converges.
INSERT INTO embedding_records_v4
  (chunk_id, model, dimension, status, vector_committed, generation, created_at, updated_at, state_changed_at)
SELECT chunk_id, model, dimension, status, vector_committed, rowid, created_at, updated_at, updated_at
FROM embedding_records;

DROP TABLE embedding_records;
ALTER TABLE embedding_records_v4 RENAME TO embedding_records;

CREATE INDEX idx_embed_status ON embedding_records(status);
CREATE INDEX idx_embed_status_changed ON embedding_records(status, state_changed_at);

-- Store-wide generation counter, allocated inside phase-1 transactions so
-- several processes never hand out the same number.
CREATE TABLE generation_seq (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  next INTEGER NOT NULL
);
INSERT INTO generation_seq (id, next)
SELECT 1, COALESCE(MAX(generation), 0) + 1 FROM embedding_records;

CREATE TRIGGER chunks_bd_tombstone_embeddings
BEFORE DELETE ON chunks
BEGIN
  UPDATE embedding_records
     SET status = 'tombstone',
         updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER),
         state_changed_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
   WHERE chunk_id = old.chunk_id;
END;
