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

/** Opens the Lance database at a directory or an `s3://` prefix, with bounded caches. */
export function connectLance(location: VectorsLocation): Promise<lancedb.Connection> {
  const session = new lancedb.Session(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES);
  // The options form: lancedb 0.31 ignores a session passed as connect()'s third argument.
  if (location.kind === "directory") return lancedb.connect({ uri: location.uri, session });
  return lancedb.connect({ uri: location.uri, session, storageOptions: lanceStorageOptions(location) });
}
