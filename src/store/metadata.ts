import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import { openReadOnlyDatabase } from "./data-dir.js";
import { StoreError } from "./errors.js";
import { compileFilter } from "./filter.js";
import { SAMPLE_BLOCK_ROWS, SAMPLE_BLOCKS, sampleStarts, type FilterSample } from "./filter-sample.js";
import { migrate, unappliedMigrations } from "./migrate.js";
import { registerSqlFunctions } from "./sql-functions.js";
import type {
  ChunkRow,
  ChunkVersionRow,
  ChunkIdRange,
  ChunkWrite,
  Garbage,
  LiveChunk,
  MetadataStore,
  PendingWork,
  RecordRow,
  RecordStatus,
  ReindexWork,
  RetiredTable,
  SearchScope,
  SnapshotView,
  StatusCounts,
} from "./metadata-store.js";
import { chunkIdRangeCondition, whereClause } from "./metadata-store.js";
import type { Filter } from "./schemas.js";
import { SETTINGS } from "./settings-keys.js";

const now = (): number => Date.now();

const RECORDS_SELECT = `SELECT e.chunk_id, e.status, e.generation, e.vector_committed, e.model, e.state_changed_at, e.gc_upto, c.generation AS committed_generation
  FROM embedding_records e LEFT JOIN chunks c ON c.chunk_id = e.chunk_id`;

/**
 * Reads one setting without migrating or creating anything: for callers
 * that must know a store's binding before choosing an embedder to open it with.
 */
export function readSettingIfPresent<T>(path: string, key: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const db = openReadOnlyDatabase(path);
  try {
    db.pragma("busy_timeout = 10000");
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_settings'").get();
    if (!hasTable) return undefined;
    const row = db.prepare<[string], { value: string }>("SELECT value FROM store_settings WHERE key = ?").get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  } finally {
    db.close();
  }
}


function scopeSql(scope: SearchScope): { where: string; params: (string | number)[] } {
  let where = "";
  const params: (string | number)[] = [];
  if (scope.collection !== undefined) {
    where += " AND c.collection = ?";
    params.push(scope.collection);
  }
  if (scope.collections !== undefined) {
    where += " AND c.collection IN (SELECT value FROM json_each(?))";
    params.push(JSON.stringify(scope.collections));
  }
  if (scope.docId !== undefined) {
    where += " AND c.doc_id = ?";
    params.push(scope.docId);
  }
  const filter = compileFilter(scope.filter);
  if (filter) {
    where += ` AND ${filter.sql}`;
    params.push(...filter.params);
  }
  return { where, params };
}

/**
 * Committed chunks of a JSON list of ids. CROSS JOIN makes SQLite walk the
 * list and look each id up: given a choice it scanned every committed
 * record through the status index instead (1.8 ms a search at 10k chunks,
 * growing with the store; 0.18 ms this way).
 */
const COMMITTED_BY_IDS = "SELECT c.* FROM json_each(?) ids CROSS JOIN chunks c ON c.chunk_id = ids.value";

/**
 * get_chunk's view: committed versions with any write in flight, then
 * versions never committed. `from` and `where` pick committed rows as `c`,
 * `pending` is the WHERE over `p` (pending_chunks is small: the writes in flight).
 */
function versionsSql(from: string, where: string, pending: string, prefix = ""): string {
  return `${prefix} SELECT c.chunk_id, c.collection, c.doc_id, c.text, c.metadata, c.content_hash, c.generation, c.created_at, c.updated_at, 'committed' AS status,
            p.generation AS pending_generation, p.content_hash AS pending_content_hash, p.updated_at AS pending_updated_at
          FROM ${from} LEFT JOIN pending_chunks p ON p.chunk_id = c.chunk_id WHERE ${where}
          UNION ALL
          SELECT p.chunk_id, p.collection, p.doc_id, p.text, p.metadata, p.content_hash, p.generation, p.created_at, p.updated_at, 'pending',
            NULL, NULL, NULL
          FROM pending_chunks p WHERE ${pending} AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = p.chunk_id)
          ORDER BY chunk_id`;
}

/**
 * Every distinct collection, walked through the (collection, doc_id) index
 * one seek at a time (a loose index scan): a lookup by doc_id alone then
 * seeks the document in each collection instead of scanning every chunk.
 */
const EACH_COLLECTION = `WITH RECURSIVE cols(name) AS (
    SELECT MIN(collection) FROM chunks
    UNION ALL
    SELECT (SELECT MIN(collection) FROM chunks WHERE collection > cols.name) FROM cols WHERE cols.name IS NOT NULL
  )`;

/**
 * Lookups by doc_id, each able to use the (collection, doc_id) index. The
 * former `(@collection IS NULL OR c.collection = @collection)` form could
 * not: SQLite scanned every chunk (14-18 ms a lookup at 16k chunks, paid by
 * every re-ingested file). Exported so a test can check the plans.
 */
export const DOC_ID_SQL = {
  versionsIn: versionsSql("chunks c", "c.collection = @collection AND c.doc_id = @docId", "p.collection = @collection AND p.doc_id = @docId"),
  versionsAny: versionsSql("cols CROSS JOIN chunks c ON c.collection = cols.name AND c.doc_id = @docId", "1", "p.doc_id = @docId", EACH_COLLECTION),
  idsIn: "SELECT chunk_id FROM chunks WHERE collection = @collection AND doc_id = @docId UNION SELECT chunk_id FROM pending_chunks WHERE collection = @collection AND doc_id = @docId",
  idsAny: `${EACH_COLLECTION} SELECT c.chunk_id FROM cols CROSS JOIN chunks c ON c.collection = cols.name AND c.doc_id = @docId
    UNION SELECT chunk_id FROM pending_chunks WHERE doc_id = @docId`,
  /** A range of the index: doc_ids from `low` (inclusive) to `high` (exclusive). */
  idsBetween: `SELECT doc_id FROM chunks WHERE collection = @collection AND doc_id >= @low AND doc_id < @high
    UNION SELECT doc_id FROM pending_chunks WHERE collection = @collection AND doc_id >= @low AND doc_id < @high ORDER BY doc_id`,
} as const;

/** The committed chunks among a JSON list of ids, in scope. */
const committedSql = (where: string): string => `${COMMITTED_BY_IDS} WHERE 1${where}`;

/** Filters compile to a handful of SQL shapes; preparing each once keeps searches cheap. */
class StatementCache {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (this.statements.size > 256) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function readCommitted(cache: StatementCache, chunkIds: readonly string[], scope: SearchScope): ChunkRow[] {
  if (chunkIds.length === 0) return [];
  const { where, params } = scopeSql(scope);
  return cache.get(committedSql(where)).all(JSON.stringify([...new Set(chunkIds)]), ...params) as ChunkRow[];
}


/** See FilterSample: blocks of SAMPLE_BLOCK_ROWS chunks from fixed pseudo-random row numbers, each found through the primary key. */
function sampleFilter(cache: StatementCache, filter: Filter): FilterSample {
  const compiled = compileFilter(filter);
  // SQLite reads min() or max() alone from the primary key, both in one SELECT by a scan: 44 ms at 1M chunks, against 0.1 ms.
  const bounds = cache.get("SELECT (SELECT min(seq) FROM chunks) AS first, (SELECT max(seq) FROM chunks) AS last").get() as { first: number | null; last: number | null };
  if (!compiled || bounds.first === null || bounds.last === null) return { sampled: 0, matching: 0 };
  const block = `SELECT * FROM (SELECT metadata FROM chunks WHERE seq >= ? ORDER BY seq LIMIT ${SAMPLE_BLOCK_ROWS})`;
  const sql = `SELECT count(*) AS sampled, coalesce(sum(CASE WHEN ${compiled.sql} THEN 1 ELSE 0 END), 0) AS matching
    FROM (${Array.from({ length: SAMPLE_BLOCKS }, () => block).join(" UNION ALL ")}) c`;
  return cache.get(sql).get(...compiled.params, ...sampleStarts(bounds.first, bounds.last)) as FilterSample;
}

function viewOf(cache: StatementCache): SnapshotView {
  return { committed: async (chunkIds, scope) => readCommitted(cache, chunkIds, scope), sampleFilter: async (filter) => sampleFilter(cache, filter) };
}

/**
 * Read-only connections for snapshots. A search holds one for its whole
 * run, inside one read transaction: in WAL mode that transaction sees the
 * database as of its first read, whatever writers commit meanwhile. More
 * concurrent searches than connections wait for one.
 */
class SnapshotPool {
  private readonly idle: StatementCache[] = [];
  private readonly waiting: ((cache: StatementCache) => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly busyTimeoutMs: number,
    /** A connection that is a snapshot already (an unchanging in-memory image), read directly. */
    private readonly frozen: StatementCache | null,
  ) {}

  async run<T>(work: (view: SnapshotView) => Promise<T>): Promise<T> {
    if (this.frozen) return work(viewOf(this.frozen));
    const cache = await this.acquire();
    const db = cache.db;
    db.exec("BEGIN");
    try {
      // The transaction's first read fixes its snapshot: before the caller looks at Lance.
      db.prepare("SELECT 1 FROM generation_seq").get();
      return await work(viewOf(cache));
    } finally {
      db.exec("COMMIT");
      this.release(cache);
    }
  }

  private acquire(): Promise<StatementCache> {
    const ready = this.idle.pop();
    if (ready) return Promise.resolve(ready);
    if (this.open < SNAPSHOT_CONNECTIONS) {
      this.open++;
      const db = new Database(this.path, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      return Promise.resolve(new StatementCache(db));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(cache: StatementCache): void {
    const next = this.waiting.shift();
    if (next) next(cache);
    else if (this.closed) cache.db.close();
    else this.idle.push(cache);
  }

  /** Closes idle connections now and busy ones as their searches finish. */
  close(): void {
    this.closed = true;
    for (const cache of this.idle.splice(0)) cache.db.close();
  }
}

/**
 * Switches a writable database to WAL, waiting for other connections as
 * the busy timeout would. The switch needs an exclusive lock, and where
 * waiting for one could deadlock (another connection holds the write lock
 * of a database still in rollback mode, as when processes create one store
 * at the same moment) SQLite fails with SQLITE_BUSY at once instead of
 * calling the busy handler: such an open failed after 0 ms with a 10 s
 * timeout. So the switch is retried until the timeout, backing off to 50 ms.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waitMs = 1; ; waitMs = Math.min(50, waitMs * 2)) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "SQLITE_BUSY" || Date.now() >= deadline) throw error;
    }
    // The constructor is synchronous; nothing else of this thread can run while it waits.
    Atomics.wait(pause, 0, 0, waitMs);
  }
}

/**
 * Snapshot connections per store: enough for the concurrent searches of a
 * busy HTTP server (searches beyond wait a few ms for one), few enough that
 * each holds little memory.
 */
const SNAPSHOT_CONNECTIONS = 8;

interface PendingRow extends ChunkRow {
  prev_generation: number | null;
  write_set: number | null;
  vector_written: number;
}

/**
 * The SQLite side of the store: what exists, in which versions, and the
 * commit state of each write (docs/ARCHITECTURE.md). Transactional in
 * better-sqlite3's style: every multi-row change is one transaction, and
 * every write transaction is IMMEDIATE so concurrent processes queue on the
 * busy timeout instead of failing a lock upgrade. Methods return promises
 * so that another backend can stand behind the same calls.
 */
export class MetadataDb implements MetadataStore {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly statementCache: StatementCache;
  private readonly snapshots: SnapshotPool;

  /** `readOnly`: for a store this user may read but not write; nothing is migrated, and every write fails. */
  constructor(path: string, options: { busyTimeoutMs?: number; readOnly?: boolean } = {}) {
    const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    this.db = options.readOnly ? openReadOnlyDatabase(path) : new Database(path);
    this.statementCache = new StatementCache(this.db);
    // An in-memory image of a store no one may write here never changes: it is its own snapshot.
    this.snapshots = new SnapshotPool(path, busyTimeoutMs, this.db.memory ? this.statementCache : null);
    this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (options.readOnly) {
      registerSqlFunctions(this.db);
      const needed = unappliedMigrations(this.db);
      if (needed.length > 0) {
        this.db.close();
        throw new StoreError(
          "read_only",
          `The store ${path} needs migration ${needed.join(", ")} before this version of retrieval-mcp can read it, and this process may not write it. ` +
            "Open it once as a user who may write it (any command applies the migration), or use the retrieval-mcp release that wrote it.",
        );
      }
    } else {
      enableWal(this.db, busyTimeoutMs);
      // FULL: an acknowledged write must survive power loss, not only a process crash.
      this.db.pragma("synchronous = FULL");
      // Enforced, so V001-V003 behave as written and write_sets references are checked.
      this.db.pragma("foreign_keys = ON");
      migrate(this.db);
    }
    const db = this.db;
    this.stmts = {
      allocate: db.prepare<[{ count: number }], { first: number }>("UPDATE generation_seq SET next = next + @count WHERE id = 1 RETURNING next - @count AS first"),
      record: db.prepare<[string], { status: RecordStatus; generation: number }>("SELECT status, generation FROM embedding_records WHERE chunk_id = ?"),
      upsertPending: db.prepare(
        `INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, write_set, vector_written, created_at, updated_at)
         VALUES (@chunkId, @generation, @collection, @docId, @text, @metadata, @contentHash, @prev, @writeSet, 0, @now, @now)
         ON CONFLICT(chunk_id) DO UPDATE SET generation = excluded.generation, collection = excluded.collection, doc_id = excluded.doc_id,
           text = excluded.text, metadata = excluded.metadata, content_hash = excluded.content_hash, prev_generation = excluded.prev_generation,
           write_set = excluded.write_set, vector_written = 0, updated_at = excluded.updated_at`,
      ),
      pendingWriteSet: db.prepare<[string], { write_set: number | null }>("SELECT write_set FROM pending_chunks WHERE chunk_id = ?"),
      upsertRecord: db.prepare(
        `INSERT INTO embedding_records (chunk_id, model, dimension, status, vector_committed, generation, created_at, updated_at, state_changed_at, gc_upto)
         VALUES (@chunkId, @model, @dimension, 'pending', 0, @generation, @now, @now, @now, @gcNow)
         ON CONFLICT(chunk_id) DO UPDATE SET model = excluded.model, dimension = excluded.dimension, status = 'pending',
           vector_committed = 0, generation = excluded.generation, updated_at = excluded.updated_at, state_changed_at = excluded.state_changed_at,
           gc_upto = CASE WHEN excluded.gc_upto IS NULL THEN gc_upto ELSE MAX(COALESCE(gc_upto, 0), excluded.gc_upto) END`,
      ),
      pendingByKey: db.prepare<[{ chunkId: string; generation: number }], PendingRow>("SELECT * FROM pending_chunks WHERE chunk_id = @chunkId AND generation = @generation"),
      pendingGenerations: db.prepare<[string], { generation: number }>("SELECT generation FROM pending_chunks WHERE chunk_id IN (SELECT value FROM json_each(?))"),
      markWritten: db.prepare("UPDATE pending_chunks SET vector_written = 1 WHERE chunk_id = ?"),
      promote: db.prepare(
        `INSERT INTO chunks (chunk_id, collection, doc_id, text, metadata, content_hash, generation, created_at, updated_at)
         SELECT chunk_id, collection, doc_id, text, metadata, content_hash, generation, created_at, @now FROM pending_chunks WHERE chunk_id = @chunkId
         ON CONFLICT(chunk_id) DO UPDATE SET collection = excluded.collection, doc_id = excluded.doc_id, text = excluded.text,
           metadata = excluded.metadata, content_hash = excluded.content_hash, generation = excluded.generation, updated_at = excluded.updated_at`,
      ),
      dropPending: db.prepare("DELETE FROM pending_chunks WHERE chunk_id = ?"),
      commitRecord: db.prepare(
        `UPDATE embedding_records SET status = 'committed', vector_committed = 1, updated_at = @now, state_changed_at = @now,
           gc_upto = CASE WHEN @prev IS NULL THEN gc_upto ELSE MAX(COALESCE(gc_upto, 0), @prev) END
         WHERE chunk_id = @chunkId AND generation = @generation AND status = 'pending'`,
      ),
      newWriteSet: db.prepare<[{ collection: string; docId: string; now: number }], { id: number }>(
        "INSERT INTO write_sets (collection, doc_id, created_at) VALUES (@collection, @docId, @now) RETURNING id",
      ),
      addRemoval: db.prepare("INSERT INTO write_set_removals (write_set, chunk_id, up_to_generation) VALUES (?, ?, ?)"),
      writeSetUnwritten: db.prepare<[number], { one: number }>("SELECT 1 AS one FROM pending_chunks WHERE write_set = ? AND vector_written = 0 LIMIT 1"),
      writeSetMembers: db.prepare<[number], PendingRow>("SELECT * FROM pending_chunks WHERE write_set = ?"),
      writeSetRemovals: db.prepare<[number], { chunk_id: string; up_to_generation: number }>(
        "SELECT chunk_id, up_to_generation FROM write_set_removals WHERE write_set = ?",
      ),
      dropWriteSet: db.prepare("DELETE FROM write_sets WHERE id = ?"),
      writeSetHasMember: db.prepare<[number], { one: number }>("SELECT 1 AS one FROM pending_chunks WHERE write_set = ? LIMIT 1"),
      joinWriteSet: db.prepare("UPDATE pending_chunks SET write_set = ? WHERE chunk_id = ?"),
      handOverRemovals: db.prepare(
        `INSERT INTO write_set_removals (write_set, chunk_id, up_to_generation) SELECT @to, chunk_id, up_to_generation FROM write_set_removals WHERE write_set = @from
         ON CONFLICT(write_set, chunk_id) DO UPDATE SET up_to_generation = MAX(up_to_generation, excluded.up_to_generation)`,
      ),
      // A delete: the chunks row goes (its trigger tombstones the record), the pending version too, and a chunk never committed is tombstoned here.
      deleteCommitted: db.prepare("DELETE FROM chunks WHERE chunk_id = ?"),
      tombstone: db.prepare(
        "UPDATE embedding_records SET status = 'tombstone', updated_at = @now, state_changed_at = @now WHERE chunk_id = @chunkId AND status != 'tombstone'",
      ),
      liveByIds: db.prepare<[string], LiveChunk>(
        `SELECT c.*, e.status, e.model FROM json_each(?) ids CROSS JOIN chunks c ON c.chunk_id = ids.value CROSS JOIN embedding_records e ON e.chunk_id = c.chunk_id`,
      ),
      versionsByIds: db.prepare<[{ ids: string }], ChunkVersionRow>(
        versionsSql("chunks c", "c.chunk_id IN (SELECT value FROM json_each(@ids))", "p.chunk_id IN (SELECT value FROM json_each(@ids))"),
      ),
      versionsOfDocIn: db.prepare<[{ docId: string; collection: string }], ChunkVersionRow>(DOC_ID_SQL.versionsIn),
      versionsOfDocAny: db.prepare<[{ docId: string }], ChunkVersionRow>(DOC_ID_SQL.versionsAny),
      idsOfDocIn: db.prepare<[{ docId: string; collection: string }], { chunk_id: string }>(DOC_ID_SQL.idsIn),
      idsOfDocAny: db.prepare<[{ docId: string }], { chunk_id: string }>(DOC_ID_SQL.idsAny),
      idsBetween: db.prepare<[{ collection: string; low: string; high: string }], { doc_id: string }>(DOC_ID_SQL.idsBetween),
      existingIds: db.prepare<[string, string], { chunk_id: string }>(
        `SELECT chunk_id FROM chunks WHERE chunk_id IN (SELECT value FROM json_each(?))
         UNION SELECT chunk_id FROM pending_chunks WHERE chunk_id IN (SELECT value FROM json_each(?))`,
      ),
      docRecords: db.prepare<[string, string, string, string], { chunk_id: string; generation: number }>(
        `SELECT e.chunk_id, e.generation FROM embedding_records e
         WHERE e.chunk_id IN (SELECT chunk_id FROM chunks WHERE collection = ? AND doc_id = ? UNION SELECT chunk_id FROM pending_chunks WHERE collection = ? AND doc_id = ?)`,
      ),
      tombstones: db.prepare<[number], Garbage>("SELECT chunk_id, generation FROM embedding_records WHERE status = 'tombstone' ORDER BY state_changed_at LIMIT ?"),
      dropTombstone: db.prepare("DELETE FROM embedding_records WHERE chunk_id = @chunk_id AND generation = @generation AND status = 'tombstone'"),
      superseded: db.prepare<[number], Garbage>("SELECT chunk_id, gc_upto AS generation FROM embedding_records WHERE gc_upto IS NOT NULL LIMIT ?"),
      clearSuperseded: db.prepare("UPDATE embedding_records SET gc_upto = NULL WHERE chunk_id = @chunk_id AND gc_upto = @generation"),
      pending: db.prepare<[number, number], PendingWork>(
        `SELECT p.chunk_id, p.generation, p.collection, p.doc_id, p.text, p.metadata
         FROM embedding_records e CROSS JOIN pending_chunks p ON p.chunk_id = e.chunk_id
         WHERE e.status = 'pending' AND e.state_changed_at <= ? AND p.vector_written = 0 ORDER BY e.state_changed_at LIMIT ?`,
      ),
      recordsByIds: db.prepare<[string], RecordRow>(`${RECORDS_SELECT} WHERE e.chunk_id IN (SELECT value FROM json_each(?))`),
      // A new pending version copied from the committed one: the re-write of a vector Lance lost, duplicated or holds for another model.
      pendingFromCommitted: db.prepare(
        `INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, write_set, vector_written, created_at, updated_at)
         SELECT chunk_id, @newGeneration, collection, doc_id, text, metadata, content_hash, generation, NULL, 0, @now, @now FROM chunks
         WHERE chunk_id = @chunk_id AND generation = @generation`,
      ),
      rependRecord: db.prepare(
        `UPDATE embedding_records SET status = 'pending', vector_committed = 0, generation = @newGeneration, updated_at = @now, state_changed_at = @now
         WHERE chunk_id = @chunk_id AND generation = @generation AND status = @status`,
      ),
      regeneratePending: db.prepare("UPDATE pending_chunks SET generation = @newGeneration, vector_written = 0, updated_at = @now WHERE chunk_id = @chunk_id AND generation = @generation"),
      counts: db.prepare<[], { status: RecordStatus; n: number; oldest: number }>(
        "SELECT status, COUNT(*) AS n, MIN(state_changed_at) AS oldest FROM embedding_records GROUP BY status",
      ),
      rewriteCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM pending_chunks p WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = p.chunk_id)"),
      supersededCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM embedding_records WHERE gc_upto IS NOT NULL"),
      unwritePending: db.prepare("UPDATE pending_chunks SET vector_written = 0 WHERE vector_written = 1"),
      committedAfter: db.prepare<[{ seq: number; limit: number }], ReindexWork>(
        `SELECT seq, chunk_id, collection, doc_id, text, metadata, generation FROM chunks WHERE seq > @seq ORDER BY seq LIMIT @limit`,
      ),
      committedSince: db.prepare<[{ generation: number }], ReindexWork>(
        `SELECT seq, chunk_id, collection, doc_id, text, metadata, generation FROM chunks WHERE generation >= @generation ORDER BY generation`,
      ),
      changedSince: db.prepare<[{ generation: number }], { chunk_id: string; generation: number; status: RecordStatus }>(
        "SELECT chunk_id, generation, status FROM embedding_records WHERE generation >= @generation AND status IN ('pending', 'committed')",
      ),
      rebindRecords: db.prepare("UPDATE embedding_records SET model = @model, dimension = @dimension, updated_at = @now WHERE status != 'tombstone'"),
      nextGeneration: db.prepare<[], { next: number }>("SELECT next FROM generation_seq WHERE id = 1"),
      chunksUpTo: db.prepare<[{ seq: number }], { n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE seq <= @seq"),
      deleteSetting: db.prepare("DELETE FROM store_settings WHERE key = ?"),
      hasCollection: db.prepare<[string, string], { one: number }>(
        "SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM chunks WHERE collection = ?) OR EXISTS (SELECT 1 FROM pending_chunks WHERE collection = ?)",
      ),
      collections: db.prepare<[number], { collection: string }>(
        "SELECT collection FROM (SELECT DISTINCT collection FROM chunks UNION SELECT DISTINCT collection FROM pending_chunks) ORDER BY collection LIMIT ?",
      ),
      tombstoneCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM embedding_records WHERE status = 'tombstone'"),
      getSetting: db.prepare<[string], { value: string }>("SELECT value FROM store_settings WHERE key = ?"),
      setSetting: db.prepare(
        "INSERT INTO store_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
      ),
      raiseVersion: db.prepare(
        `INSERT INTO store_settings (key, value, updated_at) VALUES ('lance_version:' || @table, @version, @now)
         ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)), updated_at = excluded.updated_at`,
      ),
    };
  }

  private allocate(count: number): number {
    return this.stmts.allocate.get({ count })!.first;
  }

  /**
   * Step 1: each chunk's new version goes to `pending_chunks` under a fresh
   * generation and its record to `pending`, in one transaction; the
   * committed version stays in `chunks`, served until step 3. With
   * `replace`, the new chunks form a write set that commits as one and
   * removes the document's other chunks with it; a replacement that writes
   * nothing new removes them at once.
   *
   * Unless `durable`, the commit skips its fsync: nothing is acknowledged
   * at step 1, and step 3's fully synchronous commit flushes the WAL,
   * step 1's frames included, before the write is. An fsync per
   * single-chunk write was most of its cost (192 against 663 writes/s).
   */
  async writePending(
    chunks: readonly ChunkWrite[],
    model: Pick<EmbedderInfo, "model" | "dimension">,
    options: { durable: boolean; replace?: { docId: string; collection: string; keep: readonly string[] } },
  ): Promise<{ generations: number[]; removed: string[] }> {
    const replace = options.replace;
    if (!options.durable) this.db.pragma("synchronous = NORMAL");
    try {
      return this.db
        .transaction(() => {
          const t = now();
          let writeSet: number | null = null;
          let removed: string[] = [];
          if (replace) {
            const keep = new Set(replace.keep);
            const doomed = this.stmts.docRecords
              .all(replace.collection, replace.docId, replace.collection, replace.docId)
              .filter((r) => !keep.has(r.chunk_id));
            removed = doomed.map((r) => r.chunk_id);
            if (chunks.length === 0) {
              this.deleteNow(removed, t);
            } else {
              // Even without removals: the document's changed chunks switch together, not one flush at a time.
              writeSet = this.stmts.newWriteSet.get({ collection: replace.collection, docId: replace.docId, now: t })!.id;
              for (const r of doomed) this.stmts.addRemoval.run(writeSet, r.chunk_id, r.generation);
            }
          }
          const first = this.allocate(chunks.length);
          const orphanedSets = new Set<number>();
          const generations = chunks.map((chunk, i) => {
            const generation = first + i;
            const record = this.stmts.record.get(chunk.chunkId);
            const superseded = this.stmts.pendingWriteSet.get(chunk.chunkId)?.write_set;
            if (superseded !== undefined && superseded !== null) orphanedSets.add(superseded);
            // The version this one replaces once committed; a tombstone's rows are garbage already.
            const prev = record && record.status !== "tombstone" ? record.generation : null;
            const gcNow = record?.status === "tombstone" ? record.generation : null;
            this.stmts.upsertPending.run({ ...chunk, generation, prev, writeSet, now: t });
            this.stmts.upsertRecord.run({ chunkId: chunk.chunkId, model: model.model, dimension: model.dimension, generation, now: t, gcNow });
            return generation;
          });
          this.settleOrphanedSets(orphanedSets, writeSet, chunks, t);
          return { generations, removed };
        })
        .immediate();
    } finally {
      this.db.pragma("synchronous = FULL");
    }
  }

  /**
   * Write sets that just lost members to a write: one with members left
   * may now be complete. One that lost them all was overtaken (a document
   * re-ingested while its previous replacement was in flight): its removals
   * pass to the overtaking write and happen when that commits, so a search
   * never sees the document's old chunks removed while its other chunks
   * are still in their old version. A plain write becomes their write set.
   */
  private settleOrphanedSets(orphaned: ReadonlySet<number>, writeSet: number | null, chunks: readonly ChunkWrite[], t: number): void {
    let heir = writeSet;
    for (const id of orphaned) {
      if (id === writeSet) continue;
      if (this.stmts.writeSetHasMember.get(id)) {
        this.completeWriteSet(id, t);
      } else if (heir === null) {
        heir = id;
        for (const chunk of chunks) this.stmts.joinWriteSet.run(id, chunk.chunkId);
      } else {
        this.stmts.handOverRemovals.run({ from: id, to: heir });
        this.stmts.dropWriteSet.run(id);
      }
    }
  }

  /**
   * Step 3: for exactly the (chunk_id, generation) pairs Lance now holds
   * and that are still the chunk's pending version, the pending version
   * becomes the committed one: text, metadata and the generation search
   * accepts switch in this one transaction, and the superseded version's
   * Lance rows are handed to GC. A member of a write set is only marked
   * written; the set commits as a whole with its last member.
   */
  async commit(keys: readonly { chunkId: string; generation: number }[], fault?: () => void): Promise<number> {
    return this.db
      .transaction(() => {
        fault?.();
        const t = now();
        let changed = 0;
        const sets = new Set<number>();
        for (const key of keys) {
          const row = this.stmts.pendingByKey.get(key);
          if (!row) continue;
          if (row.write_set !== null) {
            this.stmts.markWritten.run(key.chunkId);
            sets.add(row.write_set);
          } else {
            changed += this.promote(row, t);
          }
        }
        for (const id of sets) changed += this.completeWriteSet(id, t);
        return changed;
      })
      .immediate();
  }

  /** Which of these generations are still their chunk's pending version (by chunk_id, so through the primary key). */
  async stillPending(keys: readonly { chunkId: string; generation: number }[]): Promise<Set<number>> {
    const pending = new Set(this.stmts.pendingGenerations.all(JSON.stringify(keys.map((k) => k.chunkId))).map((r) => r.generation));
    return new Set(keys.map((k) => k.generation).filter((g) => pending.has(g)));
  }

  private promote(row: PendingRow, t: number): number {
    this.stmts.promote.run({ chunkId: row.chunk_id, now: t });
    this.stmts.dropPending.run(row.chunk_id);
    return this.stmts.commitRecord.run({ chunkId: row.chunk_id, generation: row.generation, prev: row.prev_generation, now: t }).changes;
  }

  /** Commits a write set once all its members' vectors are in Lance: the new chunks appear and the removed ones go together. */
  private completeWriteSet(id: number, t: number): number {
    if (this.stmts.writeSetUnwritten.get(id)) return 0;
    let changed = 0;
    for (const row of this.stmts.writeSetMembers.all(id)) changed += this.promote(row, t);
    const removals = this.stmts.writeSetRemovals.all(id);
    const current = new Map(
      removals.map((r) => [r.chunk_id, this.stmts.record.get(r.chunk_id)] as const),
    );
    // Chunks written again after the replacement was issued are newer than it: left alone.
    this.deleteNow(
      removals.filter((r) => {
        const record = current.get(r.chunk_id);
        return record !== undefined && record.status !== "tombstone" && record.generation <= r.up_to_generation;
      }).map((r) => r.chunk_id),
      t,
    );
    this.stmts.dropWriteSet.run(id);
    return changed;
  }

  /**
   * Deletes chunks, both versions, tombstoning their records; inside the
   * caller's transaction. A replacement whose unwritten members were all
   * deleted (by a delete, or by another replacement's removals) is complete
   * now: its own removals were acknowledged with it and must not be lost.
   */
  private deleteNow(chunkIds: readonly string[], t: number): void {
    const sets = new Set<number>();
    for (const chunkId of chunkIds) {
      const set = this.stmts.pendingWriteSet.get(chunkId)?.write_set;
      if (set !== undefined && set !== null) sets.add(set);
      this.stmts.dropPending.run(chunkId);
      this.stmts.deleteCommitted.run(chunkId);
      this.stmts.tombstone.run({ chunkId, now: t });
    }
    for (const id of sets) this.completeWriteSet(id, t);
  }

  private deleteInTransaction(find: () => string[]): Promise<string[]> {
    return Promise.resolve(
      this.db
        .transaction(() => {
          const ids = find();
          this.deleteNow(ids, now());
          return ids;
        })
        .immediate(),
    );
  }

  async deleteChunks(chunkIds: readonly string[]): Promise<string[]> {
    const list = JSON.stringify(chunkIds);
    return this.deleteInTransaction(() => this.stmts.existingIds.all(list, list).map((r) => r.chunk_id));
  }

  async deleteDocument(docId: string, collection: string | null): Promise<string[]> {
    return this.deleteInTransaction(() =>
      (collection === null ? this.stmts.idsOfDocAny.all({ docId }) : this.stmts.idsOfDocIn.all({ docId, collection })).map((r) => r.chunk_id),
    );
  }

  /**
   * Ids of the documents in a collection whose doc_id starts with `prefix`,
   * read as a range of the (collection, doc_id) index: every id starting
   * with the prefix sorts at or after it and before the prefix with its
   * last character raised.
   */
  async documentIds(collection: string, prefix: string): Promise<string[]> {
    const high = prefix.slice(0, -1) + String.fromCodePoint(prefix.codePointAt(prefix.length - 1)! + 1);
    return this.stmts.idsBetween.all({ collection, low: prefix, high }).map((r) => r.doc_id);
  }

  /** Each Lance write records the table's new version, so other processes know to refresh before they read or write. */
  async noteLanceVersion(table: string, version: number): Promise<void> {
    this.stmts.raiseVersion.run({ table, version: String(version), now: now() });
  }

  async lanceVersion(table: string): Promise<number> {
    return Number(this.stmts.getSetting.get(`lance_version:${table}`)?.value ?? 0);
  }

  /** Committed versions with the state of each chunk's newest write. */
  async live(chunkIds: readonly string[]): Promise<LiveChunk[]> {
    return this.stmts.liveByIds.all(JSON.stringify([...new Set(chunkIds)]));
  }

  /** Committed versions, or the pending one of a chunk never committed, with any write in flight. */
  async versions(chunkIds: readonly string[]): Promise<ChunkVersionRow[]> {
    return this.stmts.versionsByIds.all({ ids: JSON.stringify([...new Set(chunkIds)]) });
  }

  async documentVersions(docId: string, collection: string | null): Promise<ChunkVersionRow[]> {
    return collection === null ? this.stmts.versionsOfDocAny.all({ docId }) : this.stmts.versionsOfDocIn.all({ docId, collection });
  }

  /**
   * Runs `work` on one consistent read of what is committed (see
   * SnapshotPool): a search takes it before it asks Lance, so every chunk
   * it returns, from either side of a hybrid search, is in the version
   * committed at that moment.
   */
  snapshot<T>(work: (view: SnapshotView) => Promise<T>): Promise<T> {
    return this.snapshots.run(work);
  }

  /** The committed versions among these chunks as of now, in scope. */
  async committed(chunkIds: readonly string[], scope: SearchScope): Promise<ChunkRow[]> {
    return readCommitted(this.statementCache, chunkIds, scope);
  }

  /** Committed chunks in `seq` order after a cursor: the resumable scan of a reindex. */
  async committedAfter(seq: number, limit: number): Promise<ReindexWork[]> {
    return this.stmts.committedAfter.all({ seq, limit });
  }

  /** Committed chunks written at or after a generation: what changed while a reindex ran. */
  async committedSince(generation: number): Promise<ReindexWork[]> {
    return this.stmts.committedSince.all({ generation });
  }

  async hasCollection(collection: string): Promise<boolean> {
    return this.stmts.hasCollection.get(collection, collection) !== undefined;
  }

  async collections(limit: number): Promise<string[]> {
    return this.stmts.collections.all(limit).map((r) => r.collection);
  }

  async nextGeneration(): Promise<number> {
    return this.stmts.nextGeneration.get()!.next;
  }

  async chunksUpTo(seq: number): Promise<number> {
    return this.stmts.chunksUpTo.get({ seq })!.n;
  }

  /**
   * The atomic end of a reindex: binds the store to the new model and
   * table, and gives every chunk written since the last copy pass a new
   * pending version under a new generation, so a write that raced the
   * switch can never commit a vector into the old table (its step 3
   * compare-and-set fails) and recovery re-embeds it with the new model.
   */
  async switchModel(change: { model: EmbedderInfo; table: string; changedSince: number; retire: string }): Promise<number> {
    return this.db
      .transaction(() => {
        const t = now();
        const changed = this.stmts.changedSince.all({ generation: change.changedSince });
        const first = this.allocate(changed.length);
        changed.forEach((row, i) => this.repend(row, first + i, t));
        this.stmts.rebindRecords.run({ model: modelKey(change.model), dimension: change.model.dimension, now: t });
        this.writeSetting(SETTINGS.model, change.model);
        this.writeSetting(SETTINGS.table, change.table);
        this.stmts.deleteSetting.run(SETTINGS.reindex);
        this.retire(change.retire, t);
        return changed.length;
      })
      .immediate();
  }

  /** A write of the chunk's current content under a new generation: a pending write is re-numbered, a committed version copied. */
  private repend(row: { chunk_id: string; generation: number; status: RecordStatus }, newGeneration: number, t: number): number {
    const key = { chunk_id: row.chunk_id, generation: row.generation, newGeneration, now: t };
    if (row.status === "pending") this.stmts.regeneratePending.run(key);
    else this.stmts.pendingFromCommitted.run(key);
    return this.stmts.rependRecord.run({ ...key, status: row.status }).changes;
  }

  /** Makes `table` the active vector table and retires the one it replaces, in one transaction. */
  async switchTable(change: { table: string; retire: string }): Promise<void> {
    this.db
      .transaction(() => {
        this.writeSetting(SETTINGS.table, change.table);
        this.stmts.deleteSetting.run(SETTINGS.upgrade);
        this.retire(change.retire, now());
      })
      .immediate();
  }

  private retire(table: string, at: number): void {
    this.writeSetting(SETTINGS.retired, [...(this.readSetting<RetiredTable[]>(SETTINGS.retired) ?? []), { name: table, at }]);
  }

  async deleteSetting(key: string): Promise<void> {
    this.stmts.deleteSetting.run(key);
  }

  async retiredTables(): Promise<RetiredTable[]> {
    return this.readSetting<RetiredTable[]>(SETTINGS.retired) ?? [];
  }

  /**
   * Forgets that pending versions' vectors were written: after the vector
   * table is rebuilt without them, recovery writes them again.
   */
  async unwritePending(): Promise<number> {
    return this.stmts.unwritePending.run().changes;
  }

  async tombstones(limit: number): Promise<Garbage[]> {
    return this.stmts.tombstones.all(limit);
  }

  async dropTombstones(rows: readonly Garbage[]): Promise<number> {
    return this.db.transaction(() => rows.reduce((n, row) => n + this.stmts.dropTombstone.run(row).changes, 0)).immediate();
  }

  /** Chunks whose superseded versions still have Lance rows, with the generation up to which they may go. */
  async superseded(limit: number): Promise<Garbage[]> {
    return this.stmts.superseded.all(limit);
  }

  /** Forgets superseded rows GC has deleted; a mark raised meanwhile (a newer commit) stays for the next pass. */
  async clearSuperseded(rows: readonly Garbage[]): Promise<number> {
    return this.db.transaction(() => rows.reduce((n, row) => n + this.stmts.clearSuperseded.run(row).changes, 0)).immediate();
  }

  /** Pending versions whose vectors are not in Lance yet, oldest first, written before `olderThan`. */
  async pending(olderThan: number, limit: number): Promise<PendingWork[]> {
    return this.stmts.pending.all(olderThan, limit);
  }

  async chunkIdAfter(after: string | null, places: number): Promise<string | null> {
    const values: (string | number)[] = [];
    const where = whereClause(chunkIdRangeCondition("chunk_id", { after, upTo: null }, (value) => (values.push(value), "?")));
    const row = this.statementCache.get(`SELECT chunk_id FROM embedding_records${where} ORDER BY chunk_id LIMIT 1 OFFSET ?`).get(...values, places - 1) as { chunk_id: string } | undefined;
    return row?.chunk_id ?? null;
  }

  async recordsIn(range: ChunkIdRange): Promise<RecordRow[]> {
    const values: string[] = [];
    const where = whereClause(chunkIdRangeCondition("e.chunk_id", range, (value) => (values.push(value), "?")));
    return this.statementCache.get(`${RECORDS_SELECT}${where} ORDER BY e.chunk_id`).all(...values) as RecordRow[];
  }

  async records(chunkIds: readonly string[]): Promise<RecordRow[]> {
    return this.stmts.recordsByIds.all(JSON.stringify(chunkIds));
  }

  /**
   * Gives committed chunks a new pending version of their current content,
   * for vectors Lance lost or duplicated: the re-write supersedes whatever
   * Lance holds for the old generation, which GC then removes. The
   * committed version is served meanwhile.
   */
  async rependCommitted(keys: readonly Garbage[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.db
      .transaction(() => {
        const first = this.allocate(keys.length);
        const t = now();
        return keys.reduce((n, key, i) => n + this.repend({ ...key, status: "committed" }, first + i, t), 0);
      })
      .immediate();
  }

  async counts(): Promise<StatusCounts> {
    const out: StatusCounts = { pending: 0, committed: 0, tombstone: 0, rewrites: 0, superseded: 0, oldestPendingAt: null, oldestTombstoneAt: null, chunks: 0 };
    for (const row of this.stmts.counts.all()) {
      out[row.status] = row.n;
      if (row.status === "pending") out.oldestPendingAt = row.oldest;
      if (row.status === "tombstone") out.oldestTombstoneAt = row.oldest;
    }
    out.chunks = out.pending + out.committed;
    out.rewrites = this.stmts.rewriteCount.get()!.n;
    out.superseded = this.stmts.supersededCount.get()!.n;
    return out;
  }

  /** Through the status index: cheap enough to answer every delete with. */
  async tombstoneCount(): Promise<number> {
    return this.stmts.tombstoneCount.get()!.n;
  }

  async getSetting<T>(key: string): Promise<T | undefined> {
    return this.readSetting<T>(key);
  }

  async setSetting(key: string, value: unknown): Promise<void> {
    this.writeSetting(key, value);
  }

  private readSetting<T>(key: string): T | undefined {
    const row = this.stmts.getSetting.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  private writeSetting(key: string, value: unknown): void {
    this.stmts.setSetting.run(key, JSON.stringify(value), now());
  }

  /** Sets a setting only if it is absent, and returns whichever value won. */
  async claimSetting<T>(key: string, value: T): Promise<T> {
    return this.db
      .transaction(() => {
        const existing = this.readSetting<T>(key);
        if (existing !== undefined) return existing;
        this.writeSetting(key, value);
        return value;
      })
      .immediate();
  }

  async close(): Promise<void> {
    this.snapshots.close();
    if (this.db.open) this.db.close();
  }
}

