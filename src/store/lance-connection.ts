import * as lancedb from "./lance.js";
import { lanceStorageOptions, type VectorsLocation } from "./vectors-location.js";

/**
 * Lance caches metadata per table version (manifests, fragment metadata)
 * and index pages, by default up to 1 GiB and 6 GiB. Every commit is a new
 * version, so under steady writes the metadata cache only grows: measured
 * ~0.6 MiB/s in one process writing without pause, so a long-running
 * server would reach 1 GiB of it. The entries that matter are the current
 * version's, a few MiB even at 100k chunks, so 64 MiB bounds it with room
 * to spare; 512 MiB of index cache holds an IVF_HNSW_SQ index of 100k 384-d
 * vectors (~60 MB) several times over.
 */
const METADATA_CACHE_BYTES = 64n * 2n ** 20n;
const INDEX_CACHE_BYTES = 512n * 2n ** 20n;

/** What Lance's caches of one connection hold now (index and metadata caches together: Lance reports only their sum). */
export interface LanceCacheUsage {
  bytes: number;
  entries: number;
  limit_bytes: number;
}

/** A Lance database, and what its caches hold. */
export interface LanceDatabase {
  connection: lancedb.Connection;
  cacheUsage(): LanceCacheUsage;
}

/** Opens the Lance database at a directory or an `s3://` prefix, with bounded caches. */
export async function connectLance(location: VectorsLocation): Promise<LanceDatabase> {
  const session = new lancedb.Session(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES);
  // The options form: lancedb 0.31 ignores a session passed as connect()'s third argument.
  const connection =
    location.kind === "directory"
      ? await lancedb.connect({ uri: location.uri, session })
      : await lancedb.connect({ uri: location.uri, session, storageOptions: lanceStorageOptions(location) });
  return {
    connection,
    cacheUsage: () => ({ bytes: Number(session.sizeBytes()), entries: session.approxNumItems(), limit_bytes: Number(INDEX_CACHE_BYTES + METADATA_CACHE_BYTES) }),
  };
}
