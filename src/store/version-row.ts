import { lexicalBody } from "./lexical.js";
import type { PendingWork } from "./metadata-store.js";
import { metadataTerms } from "./meta-terms.js";
import type { Metadata } from "./schemas.js";
import type { VectorRow } from "./vector-table.js";

/** The Lance row of one version of a chunk: its vector, and its text and metadata as the keyword index and filters see them. */
export function versionRow(version: PendingWork, vector: Float32Array): VectorRow {
  return {
    chunkId: version.chunk_id,
    generation: version.generation,
    collection: version.collection,
    docId: version.doc_id,
    lexical: lexicalBody(version.text),
    terms: metadataTerms(JSON.parse(version.metadata) as Metadata),
    vector,
  };
}
