import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { StoreError, errorMessage } from "../store/errors.js";
import { DEFAULT_COLLECTION } from "../store/paths.js";
import { LIMITS, type Metadata } from "../store/schemas.js";
import type { ChunkView, Store } from "../store/store.js";
import type { ChunkOptions } from "./chunk.js";
import { extract, type CitedChunk } from "./extract.js";
import type { FoundFile } from "./files.js";
import { fileKind, type Format } from "./formats.js";

export type FileStatus = "indexed" | "unchanged" | "skipped" | "failed";

export interface FileOutcome {
  path: string;
  status: FileStatus;
  /** Chunks embedded and written for this file (0 when unchanged). */
  written: number;
  /** Chunks of an earlier version of the file that were deleted. */
  removed: number;
  /** Why a file was skipped or failed. */
  reason?: string;
}

export interface IngestOptions {
  collection?: string;
  chunking?: Partial<ChunkOptions>;
  /** Files in flight at once; concurrent writes share Lance commits. */
  concurrency?: number;
  /** Stops taking new files; a file being written finishes or is not written at all. */
  signal?: AbortSignal;
  onFile?: (outcome: FileOutcome, done: number, total: number) => void;
}

/**
 * Raised whenever chunking or the metadata written changes, so files
 * ingested before are chunked again once (their sha256 alone would call
 * them unchanged). 2: citations (source, lines, page, heading path), formats.
 */
export const INGEST_VERSION = 2;

// Problems with one file; anything else (model mismatch, a broken embedder or vector table) stops the whole run.
const PER_FILE_CODES = new Set(["invalid_input"]);

/**
 * Indexes files as documents: `doc_id` is the path, chunk ids are
 * `${path}#${n}`. A file whose size and modification time match its stored
 * chunks is skipped without being read; one whose sha256 matches, without
 * being chunked or embedded. A changed one replaces its old chunks in one
 * transaction, so a crash leaves either the old or the new version.
 */
export async function ingestFiles(store: Store, files: readonly FoundFile[], options: IngestOptions = {}): Promise<FileOutcome[]> {
  const collection = options.collection ?? DEFAULT_COLLECTION;
  const outcomes: FileOutcome[] = [];
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    try {
      while (next < files.length && !failed && !options.signal?.aborted) {
        const outcome = await ingestFile(store, files[next++]!, collection, options);
        outcomes.push(outcome);
        options.onFile?.(outcome, outcomes.length, files.length);
      }
    } catch (error) {
      failed = true;
      throw error;
    }
  };
  // Every worker is waited for, not just the first to fail: the files the others had in flight finish (or are not
  // written at all) before the outcomes are counted. Counted at the first failure, a cancel message counted fewer
  // files than were written (in test/ingest-tool.test.ts, at most 3 while the next run found 4 already indexed).
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, files.length)) }, worker));
  if (options.signal?.aborted) {
    throw new StoreError("aborted", `Cancelled after ${outcomes.length} of ${files.length} files; those are indexed, the others were not touched.`);
  }
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) throw failure.reason;
  return outcomes;
}

interface FileStamp {
  size: number;
  mtimeMs: number;
}

async function ingestFile(store: Store, file: FoundFile, collection: string, options: IngestOptions): Promise<FileOutcome> {
  const outcome = (status: FileStatus, reason?: string, written = 0, removed = 0): FileOutcome => ({
    path: file.path,
    status,
    written,
    removed,
    ...(reason === undefined ? {} : { reason }),
  });
  try {
    const info = await stat(file.path);
    if (!info.isFile()) return outcome("skipped", "not a regular file");
    const stamp = { size: info.size, mtimeMs: info.mtimeMs };
    const existing = await store.documentChunks(file.path, collection);
    if (isCurrent(existing, (m) => m.file_size === stamp.size && m.file_mtime_ms === stamp.mtimeMs)) return outcome("unchanged");
    const bytes = await readFile(file.path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (isCurrent(existing, (m) => m.sha256 === sha256)) return outcome("unchanged");
    const kind = fileKind(file.path, file.explicit) ?? { format: "text", grammar: null };
    const extraction = await extract(bytes, kind, options.chunking);
    if (extraction.kind !== "chunks") return outcome(extraction.kind, extraction.reason);
    const chunks = extraction.chunks;
    const longestId = `${file.path}#${Math.max(0, chunks.length - 1)}`;
    if (longestId.length > LIMITS.chunkIdChars) {
      return outcome("failed", `the path is too long: chunk ids (path#n) must be at most ${LIMITS.chunkIdChars} characters; move the file to a shorter path`);
    }
    if (chunks.length === 0 && existing.length === 0) return outcome("skipped", "no text");
    const inputs = chunks.map((chunk, n) => ({
      chunk_id: `${file.path}#${n}`,
      text: chunk.text,
      metadata: chunkMetadata(file.path, kind.format, chunk, { index: n, count: chunks.length, sha256, stamp }),
    }));
    const { results, removed } = await store.replaceDocument({ doc_id: file.path, collection }, inputs, { signal: options.signal });
    return outcome("indexed", undefined, results.filter((r) => r.status !== "unchanged").length, removed.length);
  } catch (error) {
    if (error instanceof StoreError && !PER_FILE_CODES.has(error.code)) throw error;
    if (error instanceof StoreError || isFsError(error)) return outcome("failed", errorMessage(error));
    throw error;
  }
}

/** The stored chunks are the whole, committed result of ingesting this very file with this version, with no rewrite in flight. */
function isCurrent(existing: readonly ChunkView[], sameFile: (metadata: Metadata) => boolean): boolean {
  return (
    existing.length > 0 &&
    existing.every(
      (c) => c.status === "committed" && c.pending === null && c.metadata.ingest_version === INGEST_VERSION && c.metadata.chunk_count === existing.length && sameFile(c.metadata),
    )
  );
}

/**
 * What a chunk says about where it came from (the citation: source, lines
 * or page, heading path) and about the file it was read from (for the
 * unchanged-file checks). Fields that do not apply are left out.
 */
function chunkMetadata(
  path: string,
  format: Format,
  chunk: CitedChunk,
  file: { index: number; count: number; sha256: string; stamp: FileStamp },
): Metadata {
  return {
    source: path,
    format,
    heading: chunk.heading,
    ...(chunk.lineStart === undefined ? {} : { line_start: chunk.lineStart, line_end: chunk.lineEnd! }),
    ...(chunk.page === undefined ? {} : { page: chunk.page }),
    chunk_index: file.index,
    chunk_count: file.count,
    sha256: file.sha256,
    file_size: file.stamp.size,
    file_mtime_ms: file.stamp.mtimeMs,
    ingest_version: INGEST_VERSION,
  };
}

function isFsError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && typeof (error as NodeJS.ErrnoException).syscall === "string";
}
