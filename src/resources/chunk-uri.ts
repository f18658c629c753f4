/**
 * Every chunk has a URI a host can show, attach or read back with
 * resources/read. Both parts are percent-encoded, so ids with "/", ","
 * spaces or non-ASCII text survive the template match.
 */
export const CHUNK_URI_TEMPLATE = "chunk://{collection}/{chunk_id}";

export function chunkUri(collection: string, chunkId: string): string {
  return `chunk://${encodeURIComponent(collection)}/${encodeURIComponent(chunkId)}`;
}

/** The collection and chunk id a matched URI names; null when its escapes are malformed. */
export function decodeChunkUri(variables: Record<string, string | string[]>): { collection: string; chunkId: string } | null {
  const { collection, chunk_id: chunkId } = variables;
  if (typeof collection !== "string" || typeof chunkId !== "string") return null;
  try {
    return { collection: decodeURIComponent(collection), chunkId: decodeURIComponent(chunkId) };
  } catch {
    return null;
  }
}
