-- V005__lexical_index.sql — a BM25 lexical index inside the commit.
--
-- 1. `chunks` gets an explicit INTEGER PRIMARY KEY (`seq`). The lexical
--    index refers to chunks by rowid, and VACUUM may renumber the implicit
--    rowids of a table without one; an explicit key never changes.
--    `chunk_id` stays the public, unique key.
-- 2. `chunks_fts` is a contentless FTS5 table (the text lives in `chunks`
--    once) kept in step by triggers, so a chunk is in the lexical index if
--    and only if it exists in `chunks`, in every transaction, whoever
--    writes. `rmcp_lexical(text)` is the text plus the camelCase parts and
--    CJK bigrams unicode61 cannot find (src/store/lexical.ts); every
--    connection of the store registers it.

DROP TRIGGER chunks_bd_tombstone_embeddings;

CREATE TABLE chunks_v5 (
  seq          INTEGER PRIMARY KEY,
  chunk_id     TEXT NOT NULL UNIQUE,
  collection   TEXT NOT NULL DEFAULT 'default',
  doc_id       TEXT,
  text         TEXT NOT NULL,
  metadata     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  content_hash TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
INSERT INTO chunks_v5 (seq, chunk_id, collection, doc_id, text, metadata, content_hash, created_at, updated_at)
SELECT rowid, chunk_id, collection, doc_id, text, metadata, content_hash, created_at, updated_at FROM chunks;
DROP TABLE chunks;
ALTER TABLE chunks_v5 RENAME TO chunks;
CREATE INDEX idx_chunks_doc ON chunks(collection, doc_id);

CREATE TRIGGER chunks_bd_tombstone_embeddings
BEFORE DELETE ON chunks
BEGIN
  UPDATE embedding_records
     SET status = 'tombstone',
         updated_at = CAST(unixepoch('subsec') * 1000 AS INTEGER),
         state_changed_at = CAST(unixepoch('subsec') * 1000 AS INTEGER)
   WHERE chunk_id = old.chunk_id;
END;

CREATE VIRTUAL TABLE chunks_fts USING fts5(
  body,
  content = '',
  contentless_delete = 1,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO chunks_fts (rowid, body) SELECT seq, rmcp_lexical(text) FROM chunks;

CREATE TRIGGER chunks_ai_fts AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts (rowid, body) VALUES (new.seq, rmcp_lexical(new.text));
END;
CREATE TRIGGER chunks_au_fts AFTER UPDATE OF text ON chunks BEGIN
  DELETE FROM chunks_fts WHERE rowid = old.seq;
  INSERT INTO chunks_fts (rowid, body) VALUES (new.seq, rmcp_lexical(new.text));
END;
CREATE TRIGGER chunks_ad_fts AFTER DELETE ON chunks BEGIN
  DELETE FROM chunks_fts WHERE rowid = old.seq;
END;
