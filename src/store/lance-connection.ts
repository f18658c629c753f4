import * as lancedb from "./lance.js";
import { lanceStorageOptions, type VectorsLocation } from "./vectors-location.js";

/**
 * Lance caches metadata per table version (manifests, fragment metadata)
 * and index pages, by default up to 1 GiB and 6 GiB. Every commit is a new
 * version, so under steady writes the metadata cache only grows: measured
 * ~0.6 MiB/s in one process writing without pause, so a long-running
 * server would reach 1 GiB of it. The entries that matter are the current
 * version's, a few MiB even at 100k chunks, so 64 MiB bounds it with room
 * to spare.
 */
const METADATA_CACHE_BYTES = 64n * 2n ** 20n;
/**
 * The index cache must hold a table's live indexes, or searches read them
 * from storage again: at 1M chunks their files take 561 MB, and the caches
 * 1,143 MB by Lance's count once renewed and searched (bench:scale); 2 GiB
 * holds them with room for what optimizes add. Dead entries must not fill
 * it: an optimize that merges or a retraining writes new index files, and
 * the old ones' entries are never read again (bench:soak: ~180 MiB a
 * minute of them by Lance's count, which reached an earlier 512 MiB limit
 * in 3 minutes). So the table moves to a fresh connection once its caches
 * hold mostly such entries (see cachesWantRenewal) and after every
 * retraining (maintenance.ts).
 */
const INDEX_CACHE_BYTES = 2n * 2n ** 30n;
/**
 * What caches may hold beyond twice what the live indexes take there
 * before a renewal: the current version's metadata, and for a small table
 * room enough that it is not renewed after every optimize (5,000 chunks'
 * indexes take ~3.5 MiB of cache; a renewal costs reading them once more).
 */
export const RENEWAL_FLOOR_BYTES = 64 * 2 ** 20;

/** What Lance's caches of one connection hold now (index and metadata caches together: Lance reports only their sum). */
export interface LanceCacheUsage {
  bytes: number;
  entries: number;
  limit_bytes: number;
}

/** The caches, next to what the table's live indexes take on disk (null before the table exists). */
export interface LanceCacheReport extends LanceCacheUsage {
  live_index_bytes: number | null;
  /** What the caches of connections already closed still hold, until the garbage collector frees them (see native-memory.ts). */
  closed_connections_bytes: number;
}

/** A Lance database, and what its caches hold. */
export interface LanceDatabase {
  connection: lancedb.Connection;
  cacheUsage(): LanceCacheUsage;
  /** Closes the connection; its caches stay in memory until V8 collects their session (closedConnectionsCacheBytes()). */
  close(): void;
}

/**
 * Sessions of closed connections, held weakly: closing a connection frees
 * none of its caches, which live as long as the session's JavaScript
 * object does (see native-memory.ts).
 */
const closedSessions = new Set<WeakRef<lancedb.Session>>();

/** What the caches of closed connections not yet collected hold, in this process. */
export function closedConnectionsCacheBytes(): number {
  let bytes = 0;
  for (const ref of closedSessions) {
    const session = ref.deref();
    if (session) bytes += Number(session.sizeBytes());
    else closedSessions.delete(ref);
  }
  return bytes;
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
    close() {
      connection.close();
      closedSessions.add(new WeakRef(session));
    },
  };
}

/**
 * What the live indexes take in the caches per byte of their files, by
 * Lance's count, until a renewal has measured it for the table (see
 * TableHandle.prewarm): the vector index of 1M chunks, 474 MB of files,
 * took 1,008 MB.
 */
export const CACHE_BYTES_PER_INDEX_BYTE = 2;

/**
 * Whether a table's caches hold mostly entries of index files no version
 * uses any more, so that a fresh connection would hold the same live
 * entries in less memory: past twice what the live indexes take there
 * (plus the floor). A renewal then reads the live indexes once more for at
 * least twice their size read since the last one.
 *
 * Weighed against the live indexes (Lance's own count of each index's
 * files), not the files in the table's directory: those include the files
 * of every version kept for readers and not yet cleaned up, 984 MB at 1M
 * chunks in bench:scale, so the caches filled to their limit and were
 * never renewed. And against what those files take in the caches, not
 * their size: Lance counts about twice that, so a bound of twice the files
 * renewed the caches after every optimize (each renewal reloads every
 * index: 16 s for the vector index of 1M chunks).
 */
export function cachesWantRenewal(usage: LanceCacheUsage, liveIndexBytes: number, cacheBytesPerIndexByte: number, floorBytes: number): boolean {
  return usage.bytes > floorBytes + 2 * cacheBytesPerIndexByte * liveIndexBytes;
}
