import { AccessError, assertCollection, canSee, type Access } from "../auth/access.js";
import type { DeleteInput } from "../store/schemas.js";
import type { ChunkView, DeleteResult, Store } from "../store/store.js";

/**
 * The store's calls as a collection-limited session may make them: chunks
 * in other collections are neither seen nor changed, and look absent.
 * Sessions with access to every collection go straight to the store.
 */

export function visibleChunks(access: Access, chunks: ChunkView[]): ChunkView[] {
  return access.collections === null ? chunks : chunks.filter((c) => canSee(access, c.collection));
}

/** Ids of `chunkIds` the session may see; with full access, all of them. */
export async function visibleIds(access: Access, store: Store, chunkIds: readonly string[]): Promise<Set<string>> {
  if (access.collections === null) return new Set(chunkIds);
  return new Set(visibleChunks(access, await store.get(chunkIds)).map((c) => c.chunk_id));
}

/**
 * Every chunk must go to a collection the session may write, and may not
 * take over a chunk_id stored in another one (indexing an id again moves
 * the chunk into the new collection).
 */
export async function assertWritable(access: Access, store: Store, chunks: readonly { chunk_id?: string; collection?: string }[]): Promise<void> {
  if (access.collections === null) return;
  chunks.forEach((c, i) => assertCollection(access, c.collection, chunks.length > 1 ? `chunks[${i}].collection` : "collection"));
  const ids = chunks.flatMap((c) => (c.chunk_id === undefined ? [] : [c.chunk_id]));
  for (const taken of await store.get(ids)) {
    if (!canSee(access, taken.collection)) {
      throw new AccessError(`chunk_id ${JSON.stringify(taken.chunk_id)} is already in use in a collection these credentials may not change; choose another id. Nothing was written.`);
    }
  }
}

export async function deleteAllowed(access: Access, store: Store, input: DeleteInput): Promise<DeleteResult> {
  if (access.collections === null) return store.delete(input);
  if (input.doc_id !== undefined) {
    if (input.collection !== undefined) assertCollection(access, input.collection);
    const collections = input.collection !== undefined ? [input.collection] : access.collections;
    const results = [];
    for (const collection of collections) results.push(await store.delete({ doc_id: input.doc_id, collection }));
    return { deleted: results.reduce((n, r) => n + r.deleted, 0), chunk_ids: results.flatMap((r) => r.chunk_ids), pending_gc: results.at(-1)?.pending_gc ?? 0 };
  }
  const allowed = [...(await visibleIds(access, store, input.chunk_ids ?? [input.chunk_id!]))];
  if (allowed.length > 0) return store.delete({ chunk_ids: allowed });
  return { deleted: 0, chunk_ids: [], pending_gc: (await store.status()).tombstones_awaiting_gc };
}
