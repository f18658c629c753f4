import { createHash } from "node:crypto";
import type { ChunkWrite } from "./metadata-store.js";
import { DEFAULT_COLLECTION } from "./paths.js";
import type { IndexInput, Metadata } from "./schemas.js";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Sorted keys, so equal metadata always serialises to the same string. */
export function canonicalMetadata(metadata: Metadata | undefined): string {
  const entries = Object.entries(metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

/**
 * Turns a validated input into the row step 1 writes. Without a chunk_id,
 * the id derives from where the text lives and what it says, so indexing
 * the same text twice is idempotent.
 */
export function toChunkWrite(input: IndexInput): ChunkWrite {
  const collection = input.collection ?? DEFAULT_COLLECTION;
  const docId = input.doc_id ?? null;
  const contentHash = sha256(input.text);
  const chunkId = input.chunk_id ?? `c_${sha256(`${collection}\u0000${docId ?? ""}\u0000${contentHash}`).slice(0, 32)}`;
  return { chunkId, collection, docId, text: input.text, metadata: canonicalMetadata(input.metadata), contentHash };
}
