import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import type { CompiledFilter } from "./filter.js";
import { migrate } from "./migrate.js";
import { SETTINGS } from "./settings-keys.js";

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

export interface ChunkRow {
  chunk_id: string;
  collection: string;
  doc_id: string | null;
  text: string;
  metadata: string;
  content_hash: string;
  created_at: number;
  updated_at: number;
}

export interface LiveChunk extends ChunkRow {
  generation: number;
  status: RecordStatus;
  model: string;
}

export interface RecordRow {
  chunk_id: string;
  status: RecordStatus;
  generation: number;
  vector_committed: number;
  model: string;
  state_changed_at: number;
}

export interface PendingWork {
  chunk_id: string;
  generation: number;
  collection: string;
  doc_id: string | null;
  text: string;
}

export interface RetiredTable {
  name: string;
  at: number;
}

export interface ReindexWork {
  seq: number;
  chunk_id: string;
  collection: string;
  doc_id: string | null;
  text: string;
  generation: number;
}

export interface Tombstone {
  chunk_id: string;
  generation: number;
}

export interface StatusCounts {
  pending: number;
  committed: number;
  tombstone: number;
}

const now = (): number => Date.now();

/**
 * Reads one setting without migrating or creating anything: for callers
 * that must know a store's binding before choosing an embedder to open it with.
 */
export function readSettingIfPresent<T>(path: string, key: string): T | undefined {
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, fileMustExist: true });
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

/**
 * The SQLite side of the store. Synchronous and transactional in
 * better-sqlite3's style; every multi-row change is one transaction, and
 * every write transaction is IMMEDIATE so concurrent processes queue on the
 * busy timeout instead of failing a lock upgrade.
 */
/**
 * Chunks and records of a JSON list of ids. CROSS JOIN makes SQLite walk
 * the list and look each id up: given a choice it scanned every committed
 * record through the status index instead (1.8 ms a search at 10k chunks,
 * growing with the store; 0.18 ms this way).
 */
const FROM_ID_LIST = `SELECT c.*, e.generation, e.status, e.model
  FROM json_each(?) ids CROSS JOIN chunks c ON c.chunk_id = ids.value CROSS JOIN embedding_records e ON e.chunk_id = c.chunk_id`;

export interface SearchScope {
  collection?: string;
  /** Only these collections (an access restriction); undefined: all. */
  collections?: readonly string[];
  docId?: string;
  filter: CompiledFilter | null;
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
  if (scope.filter) {
    where += ` AND ${scope.filter.sql}`;
    params.push(...scope.filter.params);
  }
  return { where, params };
}

export class MetadataDb {
  readonly db: Database.Database;
  private readonly stmts;
  private readonly statementCache = new Map<string, Database.Statement>();

  constructor(path: string, options: { busyTimeoutMs?: number } = {}) {
    this.db = new Database(path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    this.db.pragma("journal_mode = WAL");
    // FULL: an acknowledged write must survive power loss, not only a process crash.
    this.db.pragma("synchronous = FULL");
    // V004 removed the only foreign key; enforcement stays on so any
    // future reference is checked, and so V001-V003 behave as written.
    this.db.pragma("foreign_keys = ON");
    migrate(this.db);
    const db = this.db;
    this.stmts = {
      allocate: db.prepare<[{ count: number }], { first: number }>("UPDATE generation_seq SET next = next + @count WHERE id = 1 RETURNING next - @count AS first"),
      upsertChunk: db.prepare(
        `INSERT INTO chunks (chunk_id, collection, doc_id, text, metadata, content_hash, created_at, updated_at)
         VALUES (@chunkId, @collection, @docId, @text, @metadata, @contentHash, @now, @now)
         ON CONFLICT(chunk_id) DO UPDATE SET collection = excluded.collection, doc_id = excluded.doc_id, text = excluded.text,
           metadata = excluded.metadata, content_hash = excluded.content_hash, updated_at = excluded.updated_at`,
      ),
      upsertRecord: db.prepare(
        `INSERT INTO embedding_records (chunk_id, model, dimension, status, vector_committed, generation, created_at, updated_at, state_changed_at)
         VALUES (@chunkId, @model, @dimension, 'pending', 0, @generation, @now, @now, @now)
         ON CONFLICT(chunk_id) DO UPDATE SET model = excluded.model, dimension = excluded.dimension, status = 'pending',
           vector_committed = 0, generation = excluded.generation, updated_at = excluded.updated_at, state_changed_at = excluded.state_changed_at`,
      ),
      commit: db.prepare(
        `UPDATE embedding_records SET status = 'committed', vector_committed = 1, updated_at = @now, state_changed_at = @now
         WHERE chunk_id = @chunkId AND generation = @generation AND status = 'pending'`,
      ),
      liveByIds: db.prepare<[string], LiveChunk>(FROM_ID_LIST),
      docChunks: db.prepare<[{ docId: string; collection: string | null }], LiveChunk>(
        `SELECT c.*, e.generation, e.status, e.model FROM chunks c JOIN embedding_records e ON e.chunk_id = c.chunk_id
         WHERE c.doc_id = @docId AND (@collection IS NULL OR c.collection = @collection) ORDER BY c.chunk_id`,
      ),
      deleteDocExcept: db.prepare<[{ docId: string; collection: string; keep: string }], { chunk_id: string }>(
        `DELETE FROM chunks WHERE doc_id = @docId AND collection = @collection
         AND chunk_id NOT IN (SELECT value FROM json_each(@keep)) RETURNING chunk_id`,
      ),
      deleteIds: db.prepare<[string], { chunk_id: string }>("DELETE FROM chunks WHERE chunk_id IN (SELECT value FROM json_each(?)) RETURNING chunk_id"),
      deleteDoc: db.prepare<[{ docId: string; collection: string | null }], { chunk_id: string }>(
        "DELETE FROM chunks WHERE doc_id = @docId AND (@collection IS NULL OR collection = @collection) RETURNING chunk_id",
      ),
      tombstones: db.prepare<[number], Tombstone>("SELECT chunk_id, generation FROM embedding_records WHERE status = 'tombstone' ORDER BY state_changed_at LIMIT ?"),
      dropTombstone: db.prepare("DELETE FROM embedding_records WHERE chunk_id = @chunk_id AND generation = @generation AND status = 'tombstone'"),
      pending: db.prepare<[number, number], PendingWork>(
        `SELECT e.chunk_id, e.generation, c.collection, c.doc_id, c.text
         FROM embedding_records e JOIN chunks c ON c.chunk_id = e.chunk_id
         WHERE e.status = 'pending' AND e.state_changed_at <= ? ORDER BY e.state_changed_at LIMIT ?`,
      ),
      pendingByKeys: db.prepare<[string], PendingWork>(
        `SELECT e.chunk_id, e.generation, c.collection, c.doc_id, c.text
         FROM json_each(?) k JOIN embedding_records e ON e.chunk_id = k.value ->> '$[0]' AND e.generation = k.value ->> '$[1]'
         JOIN chunks c ON c.chunk_id = e.chunk_id WHERE e.status = 'pending'`,
      ),
      records: db.prepare<[], RecordRow>("SELECT chunk_id, status, generation, vector_committed, model, state_changed_at FROM embedding_records"),
      recordsByIds: db.prepare<[string], RecordRow>(
        `SELECT chunk_id, status, generation, vector_committed, model, state_changed_at FROM embedding_records
         WHERE chunk_id IN (SELECT value FROM json_each(?))`,
      ),
      repend: db.prepare(
        `UPDATE embedding_records SET status = 'pending', vector_committed = 0, generation = @newGeneration, updated_at = @now, state_changed_at = @now
         WHERE chunk_id = @chunk_id AND generation = @generation AND status = 'committed'`,
      ),
      counts: db.prepare<[], { status: RecordStatus; n: number; oldest: number }>(
        "SELECT status, COUNT(*) AS n, MIN(state_changed_at) AS oldest FROM embedding_records GROUP BY status",
      ),
      lexicalMissing: db.prepare<[], { chunk_id: string }>("SELECT chunk_id FROM chunks WHERE seq NOT IN (SELECT rowid FROM chunks_fts)"),
      lexicalExtra: db.prepare<[], { rowid: number }>("SELECT rowid FROM chunks_fts WHERE rowid NOT IN (SELECT seq FROM chunks)"),
      committedAfter: db.prepare<[{ seq: number; limit: number }], ReindexWork>(
        `SELECT c.seq, c.chunk_id, c.collection, c.doc_id, c.text, e.generation FROM chunks c JOIN embedding_records e ON e.chunk_id = c.chunk_id
         WHERE c.seq > @seq AND e.status = 'committed' ORDER BY c.seq LIMIT @limit`,
      ),
      committedSince: db.prepare<[{ generation: number }], ReindexWork>(
        `SELECT c.seq, c.chunk_id, c.collection, c.doc_id, c.text, e.generation FROM embedding_records e JOIN chunks c ON c.chunk_id = e.chunk_id
         WHERE e.generation >= @generation AND e.status = 'committed' ORDER BY e.generation`,
      ),
      changedSince: db.prepare<[{ generation: number }], Tombstone>(
        "SELECT chunk_id, generation FROM embedding_records WHERE generation >= @generation AND status IN ('pending', 'committed')",
      ),
      rependAny: db.prepare(
        `UPDATE embedding_records SET status = 'pending', vector_committed = 0, generation = @newGeneration, updated_at = @now, state_changed_at = @now
         WHERE chunk_id = @chunk_id AND generation = @generation`,
      ),
      rebindRecords: db.prepare("UPDATE embedding_records SET model = @model, dimension = @dimension, updated_at = @now WHERE status != 'tombstone'"),
      nextGeneration: db.prepare<[], { next: number }>("SELECT next FROM generation_seq WHERE id = 1"),
      chunksUpTo: db.prepare<[{ seq: number }], { n: number }>("SELECT COUNT(*) AS n FROM chunks WHERE seq <= @seq"),
      deleteSetting: db.prepare("DELETE FROM store_settings WHERE key = ?"),
      hasCollection: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM chunks WHERE collection = ? LIMIT 1"),
      collections: db.prepare<[number], { collection: string }>("SELECT DISTINCT collection FROM chunks ORDER BY collection LIMIT ?"),
      tombstoneCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM embedding_records WHERE status = 'tombstone'"),
      chunkCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM chunks"),
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
   * Step 1: chunks and their `pending` records, with fresh generations, in
   * one transaction. With `replace`, the same transaction deletes the
   * document's other chunks, so replacing a document is atomic.
   *
   * Unless `durable`, the commit skips its fsync: nothing is acknowledged
   * at step 1, and step 3's fully synchronous commit flushes the WAL,
   * step 1's frames included, before the write is. An fsync per
   * single-chunk write was most of its cost (192 against 663 writes/s).
   */
  writePending(
    chunks: readonly ChunkWrite[],
    model: Pick<EmbedderInfo, "model" | "dimension">,
    options: { durable: boolean; replace?: { docId: string; collection: string; keep: readonly string[] } },
  ): { generations: number[]; removed: string[] } {
    const replace = options.replace;
    if (!options.durable) this.db.pragma("synchronous = NORMAL");
    try {
      return this.db
        .transaction(() => {
          const removed = replace ? this.stmts.deleteDocExcept.all({ ...replace, keep: JSON.stringify(replace.keep) }).map((r) => r.chunk_id) : [];
          const first = this.allocate(chunks.length);
          const t = now();
          const generations = chunks.map((chunk, i) => {
            const generation = first + i;
            this.stmts.upsertChunk.run({ ...chunk, now: t });
            this.stmts.upsertRecord.run({ chunkId: chunk.chunkId, model: model.model, dimension: model.dimension, generation, now: t });
            return generation;
          });
          return { generations, removed };
        })
        .immediate();
    } finally {
      this.db.pragma("synchronous = FULL");
    }
  }

  /**
   * Step 3: compare-and-set `pending` -> `committed` for exactly the
   * generations Lance now holds. A record superseded or deleted meanwhile is
   * left alone.
   */
  commit(keys: readonly { chunkId: string; generation: number }[], fault?: () => void): number {
    return this.db
      .transaction(() => {
        fault?.();
        const t = now();
        let changed = 0;
        for (const key of keys) changed += this.stmts.commit.run({ ...key, now: t }).changes;
        return changed;
      })
      .immediate();
  }

  /** Each Lance write records the table's new version, so other processes know to refresh before they read or write. */
  noteLanceVersion(table: string, version: number): void {
    this.stmts.raiseVersion.run({ table, version: String(version), now: now() });
  }

  lanceVersion(table: string): number {
    return Number(this.stmts.getSetting.get(`lance_version:${table}`)?.value ?? 0);
  }

  live(chunkIds: readonly string[]): LiveChunk[] {
    return this.stmts.liveByIds.all(JSON.stringify([...new Set(chunkIds)]));
  }

  /**
   * The given chunks that search may return (I1): committed, in scope and
   * matching the filter. The caller still checks each Lance hit's generation.
   */
  searchable(chunkIds: readonly string[], scope: SearchScope): LiveChunk[] {
    const { where, params } = scopeSql(scope);
    return this.cached(`${FROM_ID_LIST} WHERE e.status = 'committed'${where}`).all(JSON.stringify([...new Set(chunkIds)]), ...params) as LiveChunk[];
  }

  /**
   * BM25 over the lexical index, best first, restricted like `searchable`.
   * `score` is BM25 (higher is better). CROSS JOIN pins the full-text match
   * as the outer loop: left to the planner, SQLite ran the MATCH once per
   * chunk row (744 ms a query on 1,400 chunks).
   */
  keywordSearch(match: string, scope: SearchScope, limit: number): (LiveChunk & { score: number })[] {
    const { where, params } = scopeSql(scope);
    return this.cached(
      `SELECT c.*, e.generation, e.status, e.model, -f.rank AS score
       FROM chunks_fts f CROSS JOIN chunks c ON c.seq = f.rowid CROSS JOIN embedding_records e ON e.chunk_id = c.chunk_id
       WHERE chunks_fts MATCH ? AND e.status = 'committed'${where}
       ORDER BY f.rank LIMIT ?`,
    ).all(match, ...params, limit) as (LiveChunk & { score: number })[];
  }

  /** Committed chunks in `seq` order after a cursor: the resumable scan of a reindex. */
  committedAfter(seq: number, limit: number): ReindexWork[] {
    return this.stmts.committedAfter.all({ seq, limit });
  }

  /** Committed chunks written at or after a generation: what changed while a reindex ran. */
  committedSince(generation: number): ReindexWork[] {
    return this.stmts.committedSince.all({ generation });
  }

  hasCollection(collection: string): boolean {
    return this.stmts.hasCollection.get(collection) !== undefined;
  }

  collections(limit: number): string[] {
    return this.stmts.collections.all(limit).map((r) => r.collection);
  }

  nextGeneration(): number {
    return this.stmts.nextGeneration.get()!.next;
  }

  chunksUpTo(seq: number): number {
    return this.stmts.chunksUpTo.get({ seq })!.n;
  }

  /**
   * The atomic end of a reindex: binds the store to the new model and
   * table, and sends every record written since the last copy pass back to
   * `pending` under a new generation, so a write that raced the switch can
   * never commit a vector into the old table (its step 3 compare-and-set
   * fails) and recovery re-embeds it with the new model.
   */
  switchModel(change: { model: EmbedderInfo; table: string; changedSince: number; retire: string }): number {
    return this.db
      .transaction(() => {
        const t = now();
        const changed = this.stmts.changedSince.all({ generation: change.changedSince });
        const first = this.allocate(changed.length);
        changed.forEach((row, i) => this.stmts.rependAny.run({ chunk_id: row.chunk_id, generation: row.generation, newGeneration: first + i, now: t }));
        this.stmts.rebindRecords.run({ model: modelKey(change.model), dimension: change.model.dimension, now: t });
        this.setSetting(SETTINGS.model, change.model);
        this.setSetting(SETTINGS.table, change.table);
        this.stmts.deleteSetting.run(SETTINGS.reindex);
        this.setSetting(SETTINGS.retired, [...this.retiredTables(), { name: change.retire, at: t }]);
        return changed.length;
      })
      .immediate();
  }

  deleteSetting(key: string): void {
    this.stmts.deleteSetting.run(key);
  }

  retiredTables(): RetiredTable[] {
    return this.getSetting<RetiredTable[]>(SETTINGS.retired) ?? [];
  }

  /** Chunks missing from the lexical index, and index entries without a chunk. Both stay empty unless the triggers were bypassed. */
  lexicalDrift(): { missing: string[]; extra: number[] } {
    return {
      missing: this.stmts.lexicalMissing.all().map((r) => r.chunk_id),
      extra: this.stmts.lexicalExtra.all().map((r) => r.rowid),
    };
  }

  rebuildLexicalIndex(): void {
    this.db
      .transaction(() => {
        this.db.exec("DELETE FROM chunks_fts");
        this.db.exec("INSERT INTO chunks_fts (rowid, body) SELECT seq, rmcp_lexical(text) FROM chunks");
      })
      .immediate();
  }

  /** Filters compile to a handful of SQL shapes; preparing each once keeps searches cheap. */
  private cached(sql: string): Database.Statement {
    let statement = this.statementCache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      if (this.statementCache.size > 256) this.statementCache.clear();
      this.statementCache.set(sql, statement);
    }
    return statement;
  }

  documentChunks(docId: string, collection: string | null): LiveChunk[] {
    return this.stmts.docChunks.all({ docId, collection });
  }

  deleteChunks(chunkIds: readonly string[]): string[] {
    return this.db.transaction(() => this.stmts.deleteIds.all(JSON.stringify(chunkIds)).map((r) => r.chunk_id)).immediate();
  }

  deleteDocument(docId: string, collection: string | null): string[] {
    return this.db.transaction(() => this.stmts.deleteDoc.all({ docId, collection }).map((r) => r.chunk_id)).immediate();
  }

  tombstones(limit: number): Tombstone[] {
    return this.stmts.tombstones.all(limit);
  }

  dropTombstones(rows: readonly Tombstone[]): number {
    return this.db
      .transaction(() => rows.reduce((n, row) => n + this.stmts.dropTombstone.run(row).changes, 0))
      .immediate();
  }

  pending(olderThan: number, limit: number): PendingWork[] {
    return this.stmts.pending.all(olderThan, limit);
  }

  /** The given (chunk_id, generation) pairs that are still pending, with their text. */
  pendingByKeys(keys: readonly { chunkId: string; generation: number }[]): PendingWork[] {
    return this.stmts.pendingByKeys.all(JSON.stringify(keys.map((k) => [k.chunkId, k.generation])));
  }

  allRecords(): RecordRow[] {
    return this.stmts.records.all();
  }

  records(chunkIds: readonly string[]): RecordRow[] {
    return this.stmts.recordsByIds.all(JSON.stringify(chunkIds));
  }

  /**
   * Sends committed records back to `pending` under a new generation, for
   * vectors Lance lost or duplicated: the re-write supersedes whatever Lance
   * holds for the old generation, which then becomes garbage.
   */
  repend(keys: readonly Tombstone[]): number {
    if (keys.length === 0) return 0;
    return this.db
      .transaction(() => {
        const first = this.allocate(keys.length);
        const t = now();
        return keys.reduce((n, key, i) => n + this.stmts.repend.run({ ...key, newGeneration: first + i, now: t }).changes, 0);
      })
      .immediate();
  }

  counts(): StatusCounts & { oldestPendingAt: number | null; oldestTombstoneAt: number | null; chunks: number } {
    const out = { pending: 0, committed: 0, tombstone: 0, oldestPendingAt: null as number | null, oldestTombstoneAt: null as number | null, chunks: 0 };
    for (const row of this.stmts.counts.all()) {
      out[row.status] = row.n;
      if (row.status === "pending") out.oldestPendingAt = row.oldest;
      if (row.status === "tombstone") out.oldestTombstoneAt = row.oldest;
    }
    out.chunks = this.stmts.chunkCount.get()!.n;
    return out;
  }

  /** Through the status index: cheap enough to answer every delete with. */
  tombstoneCount(): number {
    return this.stmts.tombstoneCount.get()!.n;
  }

  getSetting<T>(key: string): T | undefined {
    const row = this.stmts.getSetting.get(key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.stmts.setSetting.run(key, JSON.stringify(value), now());
  }

  /** Sets a setting only if it is absent, and returns whichever value won. */
  claimSetting<T>(key: string, value: T): T {
    return this.db
      .transaction(() => {
        const existing = this.getSetting<T>(key);
        if (existing !== undefined) return existing;
        this.setSetting(key, value);
        return value;
      })
      .immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
