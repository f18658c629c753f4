import { StoreError, errorMessage } from "../store/errors.js";
import { DEFAULT_COLLECTION } from "../store/paths.js";
import { LIMITS } from "../store/schemas.js";
import type { Store } from "../store/store.js";
import { chunkText, type ChunkOptions } from "./chunk.js";
import { readTextFile, type FoundFile } from "./files.js";

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
  onFile?: (outcome: FileOutcome, done: number, total: number) => void;
}

// Problems with one file; anything else (model mismatch, a broken embedder or vector table) stops the whole run.
const PER_FILE_CODES = new Set(["invalid_input"]);

/**
 * Indexes files as documents: `doc_id` is the path, chunk ids are
 * `${path}#${n}`. A file whose stored chunks already carry its sha256 is
 * skipped without embedding; a changed one replaces its old chunks in one
 * transaction, so a crash leaves either the old or the new version.
 */
export async function ingestFiles(store: Store, files: readonly FoundFile[], options: IngestOptions = {}): Promise<FileOutcome[]> {
  const collection = options.collection ?? DEFAULT_COLLECTION;
  const outcomes: FileOutcome[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const at = next++;
      outcomes[at] = await ingestFile(store, files[at]!, collection, options.chunking);
      options.onFile?.(outcomes[at]!, ++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, files.length)) }, worker));
  return outcomes;
}

async function ingestFile(store: Store, file: FoundFile, collection: string, chunking: Partial<ChunkOptions> | undefined): Promise<FileOutcome> {
  const outcome = (status: FileStatus, reason?: string, written = 0, removed = 0): FileOutcome => ({
    path: file.path,
    status,
    written,
    removed,
    ...(reason === undefined ? {} : { reason }),
  });
  try {
    const content = await readTextFile(file.path);
    if (content.kind === "binary") return outcome("skipped", "binary file (not UTF-8 text)");
    const chunks = chunkText(content.text, chunking);
    const longestId = `${file.path}#${Math.max(0, chunks.length - 1)}`;
    if (longestId.length > LIMITS.chunkIdChars) {
      return outcome("failed", `the path is too long: chunk ids (path#n) must be at most ${LIMITS.chunkIdChars} characters; move the file to a shorter path`);
    }
    const existing = await store.documentChunks(file.path, collection);
    if (chunks.length === 0 && existing.length === 0) return outcome("skipped", "no text");
    const unchanged =
      existing.length === chunks.length && existing.every((c) => c.status === "committed" && c.pending === null && c.metadata.sha256 === content.sha256);
    if (unchanged) return outcome("unchanged");
    const inputs = chunks.map((chunk, n) => ({
      chunk_id: `${file.path}#${n}`,
      text: chunk.text,
      metadata: { sha256: content.sha256, chunk_index: n, chunk_count: chunks.length, heading: chunk.heading },
    }));
    const { results, removed } = await store.replaceDocument({ doc_id: file.path, collection }, inputs);
    return outcome("indexed", undefined, results.filter((r) => r.status !== "unchanged").length, removed.length);
  } catch (error) {
    if (error instanceof StoreError && !PER_FILE_CODES.has(error.code)) throw error;
    if (error instanceof StoreError || isFsError(error)) return outcome("failed", errorMessage(error));
    throw error;
  }
}

function isFsError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && typeof (error as NodeJS.ErrnoException).syscall === "string";
}
