-- V007__keyword_index_in_lance.sql — the keyword (BM25) index moves to Lance.
--
-- SQLite's FTS5 scores every posting of every query word, so a keyword
-- search cost grew with the corpus (1.2 s at a million chunks). Each Lance
-- row now carries its version's text as the keyword index sees it and its
-- metadata as filter terms, written in the same MergeInsert as the vector,
-- under Lance's full-text (BM25, block-max WAND) and label-list indexes.
-- The FTS5 table and the triggers that kept it go; a table written by
-- 0.1.0 is rebuilt with the new columns when the store first opens it.

DROP TRIGGER chunks_ai_fts;
DROP TRIGGER chunks_au_fts;
DROP TRIGGER chunks_ad_fts;
DROP TABLE chunks_fts;
