-- V003__embedding_status.sql — additive embedding lifecycle markers.
--
-- A two-phase write to `embedding_records` paired with a Lance MergeInsert.
-- Phase 1 inserts the row at `status='pending'`; phase 2 issues the Lance
-- write; phase 3 flips the row to `status='committed'`. `search` joins back
-- through this table with `WHERE status='committed'` so partial-write Lance
-- rows never surface to callers, and a crashed phase 2 retry simply re-runs
-- against the still-pending row (Lance MergeInsert dedupes on `chunk_id`).
--
-- The third state, `tombstone`, is reserved for the deletion pipeline: when
-- a chunk row goes away, the matching Lance row should also be
-- garbage-collected. The BEFORE DELETE trigger below stages the marker so a
-- GC has a well-defined claim.
ALTER TABLE embedding_records ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
  CHECK (status IN ('pending','committed','tombstone'));
ALTER TABLE embedding_records ADD COLUMN vector_committed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_embed_status ON embedding_records(status);

-- Tombstone trigger.
--
-- Caveat: V001 declared the FK as `ON DELETE CASCADE`. SQLite fires the
-- BEFORE DELETE trigger first and then runs the CASCADE, so under V001's FK
-- this tombstone is written and immediately deleted with the row. V004
-- rebuilds `embedding_records` without the CASCADE, which is what makes the
-- tombstone survive for the garbage collector.
CREATE TRIGGER chunks_bd_tombstone_embeddings
BEFORE DELETE ON chunks
BEGIN
  UPDATE embedding_records SET status='tombstone' WHERE chunk_id = old.chunk_id;
END;
