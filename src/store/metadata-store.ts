import type { EmbedderInfo } from "../embed/embedder.js";
import type { Filter } from "./schemas.js";
import type { FilterSample } from "./filter-sample.js";

export type RecordStatus = "pending" | "committed" | "tombstone";

/** A chunk as validated and normalised, ready for step 1. */
export interface ChunkWrite {
  chunkId: string;
  collection: string;
  docId: string | null;
  text: string;
  /** Canonical JSON: sorted keys. */
  metadata: string;
  contentHash: string;
}

/** One version of a chunk: the committed one (in `chunks`) or a pending one. */
export interface ChunkRow {
  chunk_id: string;
  collection: string;
  doc_id: string | null;
  text: string;
  metadata: string;
  content_hash: string;
  generation: number;
  created_at: number;
  updated_at: number;
}

/** A committed version with the state of the chunk's newest write: what "unchanged" is decided on. */
export interface LiveChunk extends ChunkRow {
  status: RecordStatus;
  model: string;
}

/** What get_chunk shows: the committed version (or, before the first commit, the pending one) and any write in flight. */
export interface ChunkVersionRow extends ChunkRow {
  status: "committed" | "pending";
  pending_generation: number | null;
  pending_content_hash: string | null;
  pending_updated_at: number | null;
}

export interface RecordRow {
  chunk_id: string;
  status: RecordStatus;
  /** The newest write's generation. */
  generation: number;
  vector_committed: number;
  model: string;
  state_changed_at: number;
  /** The generation search serves, or null before the first commit. */
  committed_generation: number | null;
  /** Lance rows of this chunk up to here are superseded, awaiting GC. */
  gc_upto: number | null;
}

/** A slice of the chunk-id space in byte order: ids past `after`, up to and including `upTo`; null leaves that side open. */
export interface ChunkIdRange {
  after: string | null;
  upTo: string | null;
}

/**
 * The condition keeping `column` in the range, each bound written by `bind`
 * (a placeholder or a literal); null when both sides are open. An open side
 * is an absent condition, not one that is always true, so SQLite and
 * PostgreSQL walk the primary key over the range alone.
 */
export function chunkIdRangeCondition(column: string, { after, upTo }: ChunkIdRange, bind: (value: string) => string): string | null {
  const conditions = [...(after === null ? [] : [`${column} > ${bind(after)}`]), ...(upTo === null ? [] : [`${column} <= ${bind(upTo)}`])];
  return conditions.length > 0 ? conditions.join(" AND ") : null;
}

/** ` WHERE <condition>`, or nothing for no condition. */
export const whereClause = (condition: string | null): string => (condition === null ? "" : ` WHERE ${condition}`);

export interface PendingWork {
  chunk_id: string;
  generation: number;
  collection: string;
  doc_id: string | null;
  text: string;
  /** Canonical JSON. */
  metadata: string;
}

export interface RetiredTable {
  name: string;
  at: number;
}

/** A committed version, as a copy into another vector table needs it. */
export interface ReindexWork extends PendingWork {
  seq: number;
}

/** Lance rows of `chunk_id` with a generation up to `generation` may be deleted. */
export interface Garbage {
  chunk_id: string;
  generation: number;
}

export interface StatusCounts {
  pending: number;
  committed: number;
  tombstone: number;
  /** Pending records of chunks whose committed version keeps being served meanwhile. */
  rewrites: number;
  /** Records whose superseded Lance rows GC has not removed yet. */
  superseded: number;
  oldestPendingAt: number | null;
  oldestTombstoneAt: number | null;
  /** Live chunks: committed, or written and not yet committed. */
  chunks: number;
}


export interface SearchScope {
  collection?: string;
  /** Only these collections (an access restriction); undefined: all. */
  collections?: readonly string[];
  docId?: string;
  filter?: Filter;
}

/** One consistent read of what is committed: everything a search reads of the metadata. */
export interface SnapshotView {
  /** The committed versions among these chunks, in scope and matching the filter. */
  committed(chunkIds: readonly string[], scope: SearchScope): Promise<ChunkRow[]>;
  /** How many of a sample of committed chunks (filter-sample.ts) match `filter`. */
  sampleFilter(filter: Filter): Promise<FilterSample>;
}

/**
 * Where the store keeps what exists, in which versions, and the commit
 * state of every write (docs/ARCHITECTURE.md, "Data"). The write protocol,
 * search, GC, recovery, verify and reindex are written once against this
 * interface; a backend implements it over its database (SQLite in
 * metadata.ts, PostgreSQL in postgres/metadata.ts). Every method that
 * changes several rows does so in one transaction; a method's contract is
 * the same on every backend.
 */
export interface MetadataStore {
  // ------------------------------------------------------------ the write protocol
  /**
   * Step 1: each chunk's new version becomes its pending version under a
   * fresh generation (from one store-wide counter), and its record `pending`,
   * in one transaction; the committed version stays. With `replace`, the
   * new chunks form a write set that commits as one and removes the
   * document's other chunks with it (nothing new: removed at once). Unless
   * `durable`, the transaction may skip its flush to disk (step 3's flushes it).
   */
  writePending(
    chunks: readonly ChunkWrite[],
    model: Pick<EmbedderInfo, "model" | "dimension">,
    options: { durable: boolean; replace?: { docId: string; collection: string; keep: readonly string[] } },
  ): Promise<{ generations: number[]; removed: string[] }>;
  /** Which of these generations are still their chunk's pending version. */
  stillPending(keys: readonly { chunkId: string; generation: number }[]): Promise<Set<number>>;
  /**
   * Step 3, one transaction: each (chunk_id, generation) still pending
   * becomes the committed version (a write-set member is only marked
   * written, its set commits with its last member), and the versions it
   * supersedes are handed to GC. `fault` runs inside the transaction (tests).
   */
  commit(keys: readonly { chunkId: string; generation: number }[], fault?: () => void): Promise<number>;
  deleteChunks(chunkIds: readonly string[]): Promise<string[]>;
  deleteDocument(docId: string, collection: string | null): Promise<string[]>;
  /** Gives committed chunks a new pending version of their own content (re-writes of lost or doubled vectors). */
  rependCommitted(keys: readonly Garbage[]): Promise<number>;
  /** Forgets that pending versions' vectors were written (after the vector table was rebuilt without them). */
  unwritePending(): Promise<number>;

  // ------------------------------------------------------------ reads
  /** Committed versions with the state of each chunk's newest write. */
  live(chunkIds: readonly string[]): Promise<LiveChunk[]>;
  /** Committed versions (or the pending one of a chunk never committed), with any write in flight. */
  versions(chunkIds: readonly string[]): Promise<ChunkVersionRow[]>;
  documentVersions(docId: string, collection: string | null): Promise<ChunkVersionRow[]>;
  /** Ids of the documents in a collection whose doc_id starts with `prefix`. */
  documentIds(collection: string, prefix: string): Promise<string[]>;
  /** Runs `work` on one consistent read of what is committed, taken before it starts (a search's snapshot). */
  snapshot<T>(work: (view: SnapshotView) => Promise<T>): Promise<T>;
  /** The committed versions among these chunks as of now, in scope. */
  committed(chunkIds: readonly string[], scope: SearchScope): Promise<ChunkRow[]>;
  hasCollection(collection: string): Promise<boolean>;
  collections(limit: number): Promise<string[]>;

  // ------------------------------------------------------------ maintenance
  tombstones(limit: number): Promise<Garbage[]>;
  dropTombstones(rows: readonly Garbage[]): Promise<number>;
  superseded(limit: number): Promise<Garbage[]>;
  clearSuperseded(rows: readonly Garbage[]): Promise<number>;
  /** Pending versions whose vectors are not written yet, oldest first, written before `olderThan` (ms). */
  pending(olderThan: number, limit: number): Promise<PendingWork[]>;
  /**
   * The id `places` chunk ids past `after` (from the first id when null),
   * by byte order, as Lance compares them; null when fewer remain. Pages a
   * walk over all records.
   */
  chunkIdAfter(after: string | null, places: number): Promise<string | null>;
  /** Records with an id past `range.after` and up to `range.upTo`, each bound open when null. */
  recordsIn(range: ChunkIdRange): Promise<RecordRow[]>;
  records(chunkIds: readonly string[]): Promise<RecordRow[]>;
  counts(): Promise<StatusCounts>;
  tombstoneCount(): Promise<number>;

  // ------------------------------------------------------------ vector tables and reindex
  /** Records a Lance table version a write made, so other processes refresh before they read or write. */
  noteLanceVersion(table: string, version: number): Promise<void>;
  lanceVersion(table: string): Promise<number>;
  committedAfter(seq: number, limit: number): Promise<ReindexWork[]>;
  committedSince(generation: number): Promise<ReindexWork[]>;
  nextGeneration(): Promise<number>;
  chunksUpTo(seq: number): Promise<number>;
  switchModel(change: { model: EmbedderInfo; table: string; changedSince: number; retire: string }): Promise<number>;
  switchTable(change: { table: string; retire: string }): Promise<void>;
  retiredTables(): Promise<RetiredTable[]>;

  // ------------------------------------------------------------ settings
  getSetting<T>(key: string): Promise<T | undefined>;
  setSetting(key: string, value: unknown): Promise<void>;
  deleteSetting(key: string): Promise<void>;
  /** Sets a setting only if it is absent, and returns whichever value won. */
  claimSetting<T>(key: string, value: T): Promise<T>;

  /** Closes its connections; a search still reading finishes first. */
  close(): Promise<void>;
}
