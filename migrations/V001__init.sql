-- V001__init.sql — chunks and their embedding records.
--
-- `chunks` is the authority on what exists (DESIGN I4). Timestamps are
-- milliseconds since the Unix epoch. `metadata` is a flat JSON object,
-- stored canonically (sorted keys) so "unchanged" is a string compare.
CREATE TABLE chunks (
  chunk_id     TEXT PRIMARY KEY NOT NULL,
  collection   TEXT NOT NULL DEFAULT 'default',
  doc_id       TEXT,
  text         TEXT NOT NULL,
  metadata     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  content_hash TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE INDEX idx_chunks_doc ON chunks(collection, doc_id);

-- One record per chunk: which model embedded it. V003 adds the lifecycle
-- state; V004 drops the CASCADE so deletions leave a tombstone behind.
CREATE TABLE embedding_records (
  chunk_id   TEXT PRIMARY KEY NOT NULL REFERENCES chunks(chunk_id) ON DELETE CASCADE,
  model      TEXT NOT NULL,
  dimension  INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
