import type pg from "pg";
import { modelKey, type EmbedderInfo } from "../../embed/embedder.js";
import { StoreError } from "../errors.js";
import { SAMPLE_BLOCK_ROWS, sampleStarts, type FilterSample } from "../filter-sample.js";
import { chunkIdRangeCondition, whereClause } from "../metadata-store.js";
import type {
  ChunkIdRange,
  ChunkRow,
  ChunkVersionRow,
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
} from "../metadata-store.js";
import type { Filter } from "../schemas.js";
import { SETTINGS } from "../settings-keys.js";
import { SqlParams, compilePostgresFilter } from "./filter.js";

type Db = pg.Pool | pg.PoolClient;

interface PendingRow extends ChunkRow {
  prev_generation: number | null;
  write_set: number | null;
  vector_written: number;
}

const CHUNK_COLUMNS = "c.chunk_id, c.collection, c.doc_id, c.text, c.metadata, c.content_hash, c.generation, c.created_at, c.updated_at";
const RECORD_COLUMNS = "e.chunk_id, e.status, e.generation, e.vector_committed, e.model, e.state_changed_at, e.gc_upto, c.generation AS committed_generation";

async function rows<T extends pg.QueryResultRow>(db: Db, text: string, values: unknown[] = []): Promise<T[]> {
  return (await db.query<T>(text, values)).rows;
}

async function changes(db: Db, text: string, values: unknown[] = []): Promise<number> {
  return (await db.query(text, values)).rowCount ?? 0;
}

/**
 * get_chunk's view: committed versions with any write in flight, then
 * versions never committed; `where` picks committed rows as `c`, `pending`
 * is the condition over `p`.
 */
function versionsSql(where: string, pending: string): string {
  return `SELECT ${CHUNK_COLUMNS}, 'committed' AS status, p.generation AS pending_generation, p.content_hash AS pending_content_hash, p.updated_at AS pending_updated_at
          FROM chunks c LEFT JOIN pending_chunks p ON p.chunk_id = c.chunk_id WHERE ${where}
          UNION ALL
          SELECT p.chunk_id, p.collection, p.doc_id, p.text, p.metadata, p.content_hash, p.generation, p.created_at, p.updated_at, 'pending', NULL, NULL, NULL
          FROM pending_chunks p WHERE ${pending} AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = p.chunk_id)
          ORDER BY chunk_id`;
}

/** The chunks a delete of a document removes, by collection or in every collection. */
const DOCUMENT_IDS = {
  in: `SELECT chunk_id FROM chunks WHERE collection = $2 AND doc_id = $1 UNION SELECT chunk_id FROM pending_chunks WHERE collection = $2 AND doc_id = $1 ORDER BY 1`,
  any: `SELECT chunk_id FROM chunks WHERE doc_id = $1 UNION SELECT chunk_id FROM pending_chunks WHERE doc_id = $1 ORDER BY 1`,
};

/**
 * Every distinct collection, one index seek each (a loose index scan
 * PostgreSQL does not plan by itself), so listing collections does not
 * read every chunk.
 */
const COLLECTIONS_SQL = `WITH RECURSIVE cols(name) AS (
    (SELECT collection FROM chunks ORDER BY collection LIMIT 1)
    UNION ALL
    SELECT (SELECT collection FROM chunks WHERE collection > cols.name ORDER BY collection LIMIT 1) FROM cols WHERE cols.name IS NOT NULL
  )
  SELECT name AS collection FROM cols WHERE name IS NOT NULL
  UNION SELECT DISTINCT collection FROM pending_chunks
  ORDER BY 1 LIMIT $1`;

async function readCommitted(db: Db, chunkIds: readonly string[], scope: SearchScope): Promise<ChunkRow[]> {
  if (chunkIds.length === 0) return [];
  const params = new SqlParams();
  let where = `c.chunk_id = ANY(${params.add([...new Set(chunkIds)])}::text[])`;
  if (scope.collection !== undefined) where += ` AND c.collection = ${params.add(scope.collection)}`;
  if (scope.collections !== undefined) where += ` AND c.collection = ANY(${params.add(scope.collections)}::text[])`;
  if (scope.docId !== undefined) where += ` AND c.doc_id = ${params.add(scope.docId)}`;
  const filter = compilePostgresFilter(scope.filter, params);
  if (filter) where += ` AND ${filter}`;
  return rows<ChunkRow>(db, `SELECT ${CHUNK_COLUMNS} FROM chunks c WHERE ${where}`, params.values);
}

/** See FilterSample: blocks of SAMPLE_BLOCK_ROWS chunks from fixed pseudo-random row numbers, each found through the primary key. */
async function sampleFilter(db: Db, filter: Filter): Promise<FilterSample> {
  const [bounds] = await rows<{ first: string | null; last: string | null }>(db, "SELECT min(seq) AS first, max(seq) AS last FROM chunks");
  const params = new SqlParams();
  const compiled = compilePostgresFilter(filter, params);
  if (!compiled || !bounds || bounds.first === null || bounds.last === null) return { sampled: 0, matching: 0 };
  const blocks = sampleStarts(Number(bounds.first), Number(bounds.last)).map(
    (start) => `(SELECT meta FROM chunks WHERE seq >= ${params.add(start)} ORDER BY seq LIMIT ${SAMPLE_BLOCK_ROWS})`,
  );
  const [found] = await rows<{ sampled: string; matching: string }>(
    db,
    `SELECT count(*) AS sampled, count(*) FILTER (WHERE ${compiled}) AS matching FROM (${blocks.join(" UNION ALL ")}) c`,
    params.values,
  );
  return { sampled: Number(found!.sampled), matching: Number(found!.matching) };
}

/** PostgreSQL text holds no U+0000 (SQLite does): such a chunk is refused before anything is written, naming the field. */
function assertStorable(chunk: ChunkWrite): void {
  const refuse = (field: string) =>
    new StoreError(
      "invalid_input",
      `chunk ${JSON.stringify(chunk.chunkId)}: ${field} contains the character U+0000 (NUL), which PostgreSQL cannot store; remove it. Nothing was written.`,
    );
  if (chunk.text.includes("\u0000")) throw refuse("text");
  for (const [key, value] of Object.entries(JSON.parse(chunk.metadata) as Record<string, unknown>)) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === "string" && v.includes("\u0000"))) throw refuse(`metadata.${key}`);
  }
}

/**
 * The store's metadata and commit state in PostgreSQL, with the semantics
 * of the SQLite implementation (metadata.ts), method for method.
 *
 * Every change runs in one transaction that first takes the store's write
 * lock (a transaction-scoped advisory lock): writers of every replica take
 * turns as SQLite's IMMEDIATE transactions do, so each sees everything
 * committed before it began, and read-modify-write steps (a record's
 * status, a write set's members, the generation counter) need no more.
 * The one exception is noteLanceVersion, a single atomic upsert that only
 * ever raises a number.
 *
 * Reads outside a snapshot are single statements, each consistent by
 * itself. A snapshot is a REPEATABLE READ, read-only transaction on a
 * connection of its own pool, held for the whole search.
 */
export class PostgresMetadata implements MetadataStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly snapshots: pg.Pool,
    /** The write lock's key (a signed 64-bit integer, ours, so safe to inline). */
    private readonly writeKey: string,
  ) {
    if (!/^-?\d+$/.test(writeKey)) throw new RangeError(`not an advisory lock key: ${writeKey}`);
  }

  /**
   * Runs `work` in one transaction holding the write lock. Unless
   * `durable`, the commit does not wait for its WAL flush: nothing is
   * acknowledged at step 1, and step 3's synchronous commit flushes the
   * WAL, step 1's records included, before the write is.
   */
  private async transaction<T>(work: (tx: pg.PoolClient) => Promise<T>, durable = true): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${this.writeKey})${durable ? "" : "; SET LOCAL synchronous_commit = off"}`);
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((e: Error) => (broken = e));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private async allocate(tx: pg.PoolClient, count: number): Promise<number> {
    const [row] = await rows<{ first: number }>(tx, "UPDATE generation_seq SET next = next + $1 WHERE id = 1 RETURNING next - $1 AS first", [count]);
    return row!.first;
  }

  // ------------------------------------------------------------ the write protocol

  async writePending(
    chunks: readonly ChunkWrite[],
    model: Pick<EmbedderInfo, "model" | "dimension">,
    options: { durable: boolean; replace?: { docId: string; collection: string; keep: readonly string[] } },
  ): Promise<{ generations: number[]; removed: string[] }> {
    chunks.forEach(assertStorable);
    const replace = options.replace;
    return this.transaction(async (tx) => {
      const t = Date.now();
      let writeSet: number | null = null;
      let removed: string[] = [];
      if (replace) {
        const keep = new Set(replace.keep);
        const doomed = (
          await rows<{ chunk_id: string; generation: number }>(
            tx,
            `SELECT e.chunk_id, e.generation FROM embedding_records e
             WHERE e.chunk_id IN (SELECT chunk_id FROM chunks WHERE collection = $1 AND doc_id = $2 UNION SELECT chunk_id FROM pending_chunks WHERE collection = $1 AND doc_id = $2)
             ORDER BY e.chunk_id`,
            [replace.collection, replace.docId],
          )
        ).filter((r) => !keep.has(r.chunk_id));
        removed = doomed.map((r) => r.chunk_id);
        if (chunks.length === 0) {
          await this.deleteNow(tx, removed, t);
        } else {
          // Even without removals: the document's changed chunks switch together, not one flush at a time.
          const [created] = await rows<{ id: number }>(tx, "INSERT INTO write_sets (collection, doc_id, created_at) VALUES ($1, $2, $3) RETURNING id", [
            replace.collection,
            replace.docId,
            t,
          ]);
          writeSet = created!.id;
          await tx.query("INSERT INTO write_set_removals (write_set, chunk_id, up_to_generation) SELECT $1, * FROM unnest($2::text[], $3::bigint[])", [
            writeSet,
            doomed.map((r) => r.chunk_id),
            doomed.map((r) => r.generation),
          ]);
        }
      }
      const first = await this.allocate(tx, chunks.length);
      const ids = chunks.map((c) => c.chunkId);
      const records = new Map(
        (await rows<{ chunk_id: string; status: RecordStatus; generation: number }>(tx, "SELECT chunk_id, status, generation FROM embedding_records WHERE chunk_id = ANY($1::text[])", [ids])).map(
          (r) => [r.chunk_id, r],
        ),
      );
      const superseded = new Map(
        (await rows<{ chunk_id: string; write_set: number }>(tx, "SELECT chunk_id, write_set FROM pending_chunks WHERE chunk_id = ANY($1::text[]) AND write_set IS NOT NULL", [ids])).map(
          (r) => [r.chunk_id, r.write_set],
        ),
      );
      const orphanedSets = new Set(ids.flatMap((id) => (superseded.has(id) ? [superseded.get(id)!] : [])));
      const generations = chunks.map((_, i) => first + i);
      // The version each one replaces once committed; a tombstone's rows are garbage already.
      const prev = ids.map((id) => {
        const record = records.get(id);
        return record && record.status !== "tombstone" ? record.generation : null;
      });
      const gcNow = ids.map((id) => (records.get(id)?.status === "tombstone" ? records.get(id)!.generation : null));
      await tx.query(
        `INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, write_set, vector_written, created_at, updated_at)
         SELECT u.chunk_id, u.generation, u.collection, u.doc_id, u.text, u.metadata, u.content_hash, u.prev, $9::bigint, 0, $10::bigint, $10::bigint
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
           AS u(chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev)
         ON CONFLICT (chunk_id) DO UPDATE SET generation = excluded.generation, collection = excluded.collection, doc_id = excluded.doc_id,
           text = excluded.text, metadata = excluded.metadata, content_hash = excluded.content_hash, prev_generation = excluded.prev_generation,
           write_set = excluded.write_set, vector_written = 0, updated_at = excluded.updated_at`,
        [
          ids,
          generations,
          chunks.map((c) => c.collection),
          chunks.map((c) => c.docId),
          chunks.map((c) => c.text),
          chunks.map((c) => c.metadata),
          chunks.map((c) => c.contentHash),
          prev,
          writeSet,
          t,
        ],
      );
      await tx.query(
        `INSERT INTO embedding_records (chunk_id, model, dimension, status, vector_committed, generation, created_at, updated_at, state_changed_at, gc_upto)
         SELECT u.chunk_id, $3, $4, 'pending', 0, u.generation, $5::bigint, $5::bigint, $5::bigint, u.gc_now
         FROM unnest($1::text[], $2::bigint[], $6::bigint[]) AS u(chunk_id, generation, gc_now)
         ON CONFLICT (chunk_id) DO UPDATE SET model = excluded.model, dimension = excluded.dimension, status = 'pending',
           vector_committed = 0, generation = excluded.generation, updated_at = excluded.updated_at, state_changed_at = excluded.state_changed_at,
           gc_upto = CASE WHEN excluded.gc_upto IS NULL THEN embedding_records.gc_upto ELSE GREATEST(COALESCE(embedding_records.gc_upto, 0), excluded.gc_upto) END`,
        [ids, generations, model.model, model.dimension, t, gcNow],
      );
      await this.settleOrphanedSets(tx, orphanedSets, writeSet, ids, t);
      return { generations, removed };
    }, options.durable);
  }

  /**
   * Write sets that just lost members to a write (metadata.ts says why):
   * one with members left may now be complete; one that lost them all
   * hands its removals to the overtaking write.
   */
  private async settleOrphanedSets(tx: pg.PoolClient, orphaned: ReadonlySet<number>, writeSet: number | null, chunkIds: readonly string[], t: number): Promise<void> {
    let heir = writeSet;
    for (const id of orphaned) {
      if (id === writeSet) continue;
      if ((await rows(tx, "SELECT 1 FROM pending_chunks WHERE write_set = $1 LIMIT 1", [id])).length > 0) {
        await this.completeWriteSet(tx, id, t);
      } else if (heir === null) {
        heir = id;
        await tx.query("UPDATE pending_chunks SET write_set = $1 WHERE chunk_id = ANY($2::text[])", [id, chunkIds]);
      } else {
        await tx.query(
          `INSERT INTO write_set_removals (write_set, chunk_id, up_to_generation) SELECT $2, chunk_id, up_to_generation FROM write_set_removals WHERE write_set = $1
           ON CONFLICT (write_set, chunk_id) DO UPDATE SET up_to_generation = GREATEST(write_set_removals.up_to_generation, excluded.up_to_generation)`,
          [id, heir],
        );
        await tx.query("DELETE FROM write_sets WHERE id = $1", [id]);
      }
    }
  }

  async commit(keys: readonly { chunkId: string; generation: number }[], fault?: () => void): Promise<number> {
    return this.transaction(async (tx) => {
      fault?.();
      const t = Date.now();
      const found = new Map(
        (
          await rows<PendingRow>(
            tx,
            `SELECT p.* FROM pending_chunks p JOIN unnest($1::text[], $2::bigint[]) AS u(chunk_id, generation) ON p.chunk_id = u.chunk_id AND p.generation = u.generation`,
            [keys.map((k) => k.chunkId), keys.map((k) => k.generation)],
          )
        ).map((r) => [r.chunk_id, r]),
      );
      const sets = new Set<number>();
      const members: string[] = [];
      const loose: PendingRow[] = [];
      for (const key of keys) {
        const row = found.get(key.chunkId);
        if (!row) continue;
        if (row.write_set !== null) {
          members.push(row.chunk_id);
          sets.add(row.write_set);
        } else {
          loose.push(row);
        }
      }
      if (members.length > 0) await tx.query("UPDATE pending_chunks SET vector_written = 1 WHERE chunk_id = ANY($1::text[])", [members]);
      let changed = await this.promote(tx, loose, t);
      for (const id of sets) changed += await this.completeWriteSet(tx, id, t);
      return changed;
    });
  }

  async stillPending(keys: readonly { chunkId: string; generation: number }[]): Promise<Set<number>> {
    const pending = new Set(
      (await rows<{ generation: number }>(this.pool, "SELECT generation FROM pending_chunks WHERE chunk_id = ANY($1::text[])", [keys.map((k) => k.chunkId)])).map((r) => r.generation),
    );
    return new Set(keys.map((k) => k.generation).filter((g) => pending.has(g)));
  }

  /** Pending versions become the committed ones: text, metadata and generation switch together; superseded rows go to GC. */
  private async promote(tx: pg.PoolClient, pending: readonly PendingRow[], t: number): Promise<number> {
    if (pending.length === 0) return 0;
    const ids = pending.map((r) => r.chunk_id);
    await tx.query(
      `INSERT INTO chunks (chunk_id, collection, doc_id, text, metadata, content_hash, generation, created_at, updated_at)
       SELECT chunk_id, collection, doc_id, text, metadata, content_hash, generation, created_at, $2::bigint FROM pending_chunks WHERE chunk_id = ANY($1::text[])
       ON CONFLICT (chunk_id) DO UPDATE SET collection = excluded.collection, doc_id = excluded.doc_id, text = excluded.text,
         metadata = excluded.metadata, content_hash = excluded.content_hash, generation = excluded.generation, updated_at = excluded.updated_at`,
      [ids, t],
    );
    await tx.query("DELETE FROM pending_chunks WHERE chunk_id = ANY($1::text[])", [ids]);
    return changes(
      tx,
      `UPDATE embedding_records e SET status = 'committed', vector_committed = 1, updated_at = $4, state_changed_at = $4,
         gc_upto = CASE WHEN u.prev IS NULL THEN e.gc_upto ELSE GREATEST(COALESCE(e.gc_upto, 0), u.prev) END
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(chunk_id, generation, prev)
       WHERE e.chunk_id = u.chunk_id AND e.generation = u.generation AND e.status = 'pending'`,
      [ids, pending.map((r) => r.generation), pending.map((r) => r.prev_generation), t],
    );
  }

  /** Commits a write set once all its members' vectors are in Lance: the new chunks appear and the removed ones go together. */
  private async completeWriteSet(tx: pg.PoolClient, id: number, t: number): Promise<number> {
    if ((await rows(tx, "SELECT 1 FROM pending_chunks WHERE write_set = $1 AND vector_written = 0 LIMIT 1", [id])).length > 0) return 0;
    const changed = await this.promote(tx, await rows<PendingRow>(tx, "SELECT * FROM pending_chunks WHERE write_set = $1 ORDER BY chunk_id", [id]), t);
    const removals = await rows<{ chunk_id: string; up_to_generation: number; status: RecordStatus | null; generation: number | null }>(
      tx,
      `SELECT r.chunk_id, r.up_to_generation, e.status, e.generation FROM write_set_removals r LEFT JOIN embedding_records e ON e.chunk_id = r.chunk_id
       WHERE r.write_set = $1 ORDER BY r.chunk_id`,
      [id],
    );
    // Chunks written again after the replacement was issued are newer than it: left alone.
    await this.deleteNow(
      tx,
      removals.filter((r) => r.status !== null && r.status !== "tombstone" && r.generation! <= r.up_to_generation).map((r) => r.chunk_id),
      t,
    );
    await tx.query("DELETE FROM write_sets WHERE id = $1", [id]);
    return changed;
  }

  /**
   * Deletes chunks, both versions, tombstoning their records; inside the
   * caller's transaction. A replacement whose unwritten members were all
   * deleted is complete now: its own removals must not be lost.
   */
  private async deleteNow(tx: pg.PoolClient, chunkIds: readonly string[], t: number): Promise<void> {
    if (chunkIds.length === 0) return;
    const bySet = new Map(
      (await rows<{ chunk_id: string; write_set: number }>(tx, "SELECT chunk_id, write_set FROM pending_chunks WHERE chunk_id = ANY($1::text[]) AND write_set IS NOT NULL", [chunkIds])).map(
        (r) => [r.chunk_id, r.write_set],
      ),
    );
    const sets = new Set(chunkIds.flatMap((id) => (bySet.has(id) ? [bySet.get(id)!] : [])));
    await tx.query("DELETE FROM pending_chunks WHERE chunk_id = ANY($1::text[])", [chunkIds]);
    await tx.query("DELETE FROM chunks WHERE chunk_id = ANY($1::text[])", [chunkIds]);
    await tx.query("UPDATE embedding_records SET status = 'tombstone', updated_at = $2, state_changed_at = $2 WHERE chunk_id = ANY($1::text[]) AND status <> 'tombstone'", [
      chunkIds,
      t,
    ]);
    for (const id of sets) await this.completeWriteSet(tx, id, t);
  }

  private deleteWhere(find: (tx: pg.PoolClient) => Promise<string[]>): Promise<string[]> {
    return this.transaction(async (tx) => {
      const ids = await find(tx);
      await this.deleteNow(tx, ids, Date.now());
      return ids;
    });
  }

  async deleteChunks(chunkIds: readonly string[]): Promise<string[]> {
    return this.deleteWhere(async (tx) =>
      (
        await rows<{ chunk_id: string }>(
          tx,
          "SELECT chunk_id FROM chunks WHERE chunk_id = ANY($1::text[]) UNION SELECT chunk_id FROM pending_chunks WHERE chunk_id = ANY($1::text[]) ORDER BY 1",
          [chunkIds],
        )
      ).map((r) => r.chunk_id),
    );
  }

  async deleteDocument(docId: string, collection: string | null): Promise<string[]> {
    return this.deleteWhere(async (tx) =>
      (await rows<{ chunk_id: string }>(tx, collection === null ? DOCUMENT_IDS.any : DOCUMENT_IDS.in, collection === null ? [docId] : [docId, collection])).map((r) => r.chunk_id),
    );
  }

  async rependCommitted(keys: readonly Garbage[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.transaction(async (tx) => {
      const first = await this.allocate(tx, keys.length);
      const t = Date.now();
      let changed = 0;
      for (const [i, key] of keys.entries()) changed += await this.repend(tx, { ...key, status: "committed" }, first + i, t);
      return changed;
    });
  }

  /** A write of the chunk's current content under a new generation: a pending write is re-numbered, a committed version copied. */
  private async repend(tx: pg.PoolClient, row: { chunk_id: string; generation: number; status: RecordStatus }, newGeneration: number, t: number): Promise<number> {
    const key = [row.chunk_id, row.generation, newGeneration, t];
    if (row.status === "pending") {
      await tx.query("UPDATE pending_chunks SET generation = $3, vector_written = 0, updated_at = $4 WHERE chunk_id = $1 AND generation = $2", key);
    } else {
      await tx.query(
        `INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, write_set, vector_written, created_at, updated_at)
         SELECT chunk_id, $3, collection, doc_id, text, metadata, content_hash, generation, NULL, 0, $4, $4 FROM chunks WHERE chunk_id = $1 AND generation = $2`,
        key,
      );
    }
    return changes(
      tx,
      `UPDATE embedding_records SET status = 'pending', vector_committed = 0, generation = $3, updated_at = $4, state_changed_at = $4
       WHERE chunk_id = $1 AND generation = $2 AND status = $5`,
      [...key, row.status],
    );
  }

  async unwritePending(): Promise<number> {
    return this.transaction((tx) => changes(tx, "UPDATE pending_chunks SET vector_written = 0 WHERE vector_written = 1"));
  }

  // ------------------------------------------------------------ reads

  async live(chunkIds: readonly string[]): Promise<LiveChunk[]> {
    return rows<LiveChunk>(
      this.pool,
      `SELECT ${CHUNK_COLUMNS}, e.status, e.model FROM chunks c JOIN embedding_records e ON e.chunk_id = c.chunk_id WHERE c.chunk_id = ANY($1::text[])`,
      [[...new Set(chunkIds)]],
    );
  }

  async versions(chunkIds: readonly string[]): Promise<ChunkVersionRow[]> {
    return rows<ChunkVersionRow>(this.pool, versionsSql("c.chunk_id = ANY($1::text[])", "p.chunk_id = ANY($1::text[])"), [[...new Set(chunkIds)]]);
  }

  async documentVersions(docId: string, collection: string | null): Promise<ChunkVersionRow[]> {
    return collection === null
      ? rows<ChunkVersionRow>(this.pool, versionsSql("c.doc_id = $1", "p.doc_id = $1"), [docId])
      : rows<ChunkVersionRow>(this.pool, versionsSql("c.collection = $2 AND c.doc_id = $1", "p.collection = $2 AND p.doc_id = $1"), [docId, collection]);
  }

  /** Ids of the documents in a collection whose doc_id starts with `prefix`: a range of the (collection, doc_id) index, bytewise as on SQLite. */
  async documentIds(collection: string, prefix: string): Promise<string[]> {
    const high = prefix.slice(0, -1) + String.fromCodePoint(prefix.codePointAt(prefix.length - 1)! + 1);
    return (
      await rows<{ doc_id: string }>(
        this.pool,
        `SELECT doc_id FROM chunks WHERE collection = $1 AND doc_id >= $2 AND doc_id < $3
         UNION SELECT doc_id FROM pending_chunks WHERE collection = $1 AND doc_id >= $2 AND doc_id < $3 ORDER BY 1`,
        [collection, prefix, high],
      )
    ).map((r) => r.doc_id);
  }

  /**
   * Runs `work` on one consistent read of what is committed: a REPEATABLE
   * READ transaction sees the database as of its first statement, run here
   * before the caller looks at Lance, whatever any replica commits meanwhile.
   */
  async snapshot<T>(work: (view: SnapshotView) => Promise<T>): Promise<T> {
    const client = await this.snapshots.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT next FROM generation_seq");
      return await work({ committed: (chunkIds, scope) => readCommitted(client, chunkIds, scope), sampleFilter: (filter) => sampleFilter(client, filter) });
    } finally {
      await client.query("COMMIT").catch((e: Error) => (broken = e));
      client.release(broken);
    }
  }

  async committed(chunkIds: readonly string[], scope: SearchScope): Promise<ChunkRow[]> {
    return readCommitted(this.pool, chunkIds, scope);
  }

  async hasCollection(collection: string): Promise<boolean> {
    const [row] = await rows<{ found: boolean }>(
      this.pool,
      "SELECT EXISTS (SELECT 1 FROM chunks WHERE collection = $1) OR EXISTS (SELECT 1 FROM pending_chunks WHERE collection = $1) AS found",
      [collection],
    );
    return row!.found;
  }

  async collections(limit: number): Promise<string[]> {
    return (await rows<{ collection: string }>(this.pool, COLLECTIONS_SQL, [limit])).map((r) => r.collection);
  }

  // ------------------------------------------------------------ maintenance

  async tombstones(limit: number): Promise<Garbage[]> {
    return rows<Garbage>(this.pool, "SELECT chunk_id, generation FROM embedding_records WHERE status = 'tombstone' ORDER BY state_changed_at LIMIT $1", [limit]);
  }

  async dropTombstones(garbage: readonly Garbage[]): Promise<number> {
    return this.transaction((tx) =>
      changes(
        tx,
        `DELETE FROM embedding_records e USING unnest($1::text[], $2::bigint[]) AS u(chunk_id, generation)
         WHERE e.chunk_id = u.chunk_id AND e.generation = u.generation AND e.status = 'tombstone'`,
        [garbage.map((g) => g.chunk_id), garbage.map((g) => g.generation)],
      ),
    );
  }

  async superseded(limit: number): Promise<Garbage[]> {
    return rows<Garbage>(this.pool, "SELECT chunk_id, gc_upto AS generation FROM embedding_records WHERE gc_upto IS NOT NULL LIMIT $1", [limit]);
  }

  /** Forgets superseded rows GC has deleted; a mark raised meanwhile (a newer commit) stays for the next pass. */
  async clearSuperseded(garbage: readonly Garbage[]): Promise<number> {
    return this.transaction((tx) =>
      changes(
        tx,
        `UPDATE embedding_records e SET gc_upto = NULL FROM unnest($1::text[], $2::bigint[]) AS u(chunk_id, generation)
         WHERE e.chunk_id = u.chunk_id AND e.gc_upto = u.generation`,
        [garbage.map((g) => g.chunk_id), garbage.map((g) => g.generation)],
      ),
    );
  }

  async pending(olderThan: number, limit: number): Promise<PendingWork[]> {
    return rows<PendingWork>(
      this.pool,
      `SELECT p.chunk_id, p.generation, p.collection, p.doc_id, p.text, p.metadata
       FROM embedding_records e JOIN pending_chunks p ON p.chunk_id = e.chunk_id
       WHERE e.status = 'pending' AND e.state_changed_at <= $1 AND p.vector_written = 0 ORDER BY e.state_changed_at LIMIT $2`,
      [olderThan, limit],
    );
  }

  // chunk_id is COLLATE "C" (bytewise, as Lance compares), so these walk the primary key.
  async chunkIdAfter(after: string | null, places: number): Promise<string | null> {
    const params = new SqlParams();
    const where = whereClause(chunkIdRangeCondition("chunk_id", { after, upTo: null }, (value) => params.add(value)));
    const [row] = await rows<{ chunk_id: string }>(this.pool, `SELECT chunk_id FROM embedding_records${where} ORDER BY chunk_id LIMIT 1 OFFSET ${params.add(places - 1)}`, params.values);
    return row?.chunk_id ?? null;
  }

  async recordsIn(range: ChunkIdRange): Promise<RecordRow[]> {
    const params = new SqlParams();
    const where = whereClause(chunkIdRangeCondition("e.chunk_id", range, (value) => params.add(value)));
    return rows<RecordRow>(this.pool, `SELECT ${RECORD_COLUMNS} FROM embedding_records e LEFT JOIN chunks c ON c.chunk_id = e.chunk_id${where} ORDER BY e.chunk_id`, params.values);
  }

  async records(chunkIds: readonly string[]): Promise<RecordRow[]> {
    return rows<RecordRow>(this.pool, `SELECT ${RECORD_COLUMNS} FROM embedding_records e LEFT JOIN chunks c ON c.chunk_id = e.chunk_id WHERE e.chunk_id = ANY($1::text[])`, [
      chunkIds,
    ]);
  }

  async counts(): Promise<StatusCounts> {
    const out: StatusCounts = { pending: 0, committed: 0, tombstone: 0, rewrites: 0, superseded: 0, oldestPendingAt: null, oldestTombstoneAt: null, chunks: 0 };
    const [byStatus, [rewrites], [superseded]] = await Promise.all([
      rows<{ status: RecordStatus; n: number; oldest: number }>(this.pool, "SELECT status, COUNT(*) AS n, MIN(state_changed_at) AS oldest FROM embedding_records GROUP BY status"),
      rows<{ n: number }>(this.pool, "SELECT COUNT(*) AS n FROM pending_chunks p WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.chunk_id = p.chunk_id)"),
      rows<{ n: number }>(this.pool, "SELECT COUNT(*) AS n FROM embedding_records WHERE gc_upto IS NOT NULL"),
    ]);
    for (const row of byStatus) {
      out[row.status] = row.n;
      if (row.status === "pending") out.oldestPendingAt = row.oldest;
      if (row.status === "tombstone") out.oldestTombstoneAt = row.oldest;
    }
    out.chunks = out.pending + out.committed;
    out.rewrites = rewrites!.n;
    out.superseded = superseded!.n;
    return out;
  }

  async tombstoneCount(): Promise<number> {
    return (await rows<{ n: number }>(this.pool, "SELECT COUNT(*) AS n FROM embedding_records WHERE status = 'tombstone'"))[0]!.n;
  }

  // ------------------------------------------------------------ vector tables and reindex

  /** Each Lance write records the table's new version, so other replicas know to refresh before they read or write. */
  async noteLanceVersion(table: string, version: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO store_settings (key, value, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(store_settings.value::bigint, excluded.value::bigint)::text, updated_at = excluded.updated_at`,
      [`lance_version:${table}`, String(version), Date.now()],
    );
  }

  async lanceVersion(table: string): Promise<number> {
    const [row] = await rows<{ value: string }>(this.pool, "SELECT value FROM store_settings WHERE key = $1", [`lance_version:${table}`]);
    return Number(row?.value ?? 0);
  }

  async committedAfter(seq: number, limit: number): Promise<ReindexWork[]> {
    return rows<ReindexWork>(this.pool, "SELECT seq, chunk_id, collection, doc_id, text, metadata, generation FROM chunks WHERE seq > $1 ORDER BY seq LIMIT $2", [seq, limit]);
  }

  async committedSince(generation: number): Promise<ReindexWork[]> {
    return rows<ReindexWork>(this.pool, "SELECT seq, chunk_id, collection, doc_id, text, metadata, generation FROM chunks WHERE generation >= $1 ORDER BY generation", [generation]);
  }

  async nextGeneration(): Promise<number> {
    return (await rows<{ next: number }>(this.pool, "SELECT next FROM generation_seq WHERE id = 1"))[0]!.next;
  }

  async chunksUpTo(seq: number): Promise<number> {
    return (await rows<{ n: number }>(this.pool, "SELECT COUNT(*) AS n FROM chunks WHERE seq <= $1", [seq]))[0]!.n;
  }

  /** The atomic end of a reindex (see metadata.ts): model, table and the re-queued writes switch in one transaction. */
  async switchModel(change: { model: EmbedderInfo; table: string; changedSince: number; retire: string }): Promise<number> {
    return this.transaction(async (tx) => {
      const t = Date.now();
      const changed = await rows<{ chunk_id: string; generation: number; status: RecordStatus }>(
        tx,
        "SELECT chunk_id, generation, status FROM embedding_records WHERE generation >= $1 AND status IN ('pending', 'committed') ORDER BY generation",
        [change.changedSince],
      );
      const first = await this.allocate(tx, changed.length);
      for (const [i, row] of changed.entries()) await this.repend(tx, row, first + i, t);
      await tx.query("UPDATE embedding_records SET model = $1, dimension = $2, updated_at = $3 WHERE status <> 'tombstone'", [modelKey(change.model), change.model.dimension, t]);
      await this.writeSetting(tx, SETTINGS.model, change.model);
      await this.writeSetting(tx, SETTINGS.table, change.table);
      await tx.query("DELETE FROM store_settings WHERE key = $1", [SETTINGS.reindex]);
      await this.retire(tx, change.retire, t);
      return changed.length;
    });
  }

  async switchTable(change: { table: string; retire: string }): Promise<void> {
    await this.transaction(async (tx) => {
      await this.writeSetting(tx, SETTINGS.table, change.table);
      await tx.query("DELETE FROM store_settings WHERE key = $1", [SETTINGS.upgrade]);
      await this.retire(tx, change.retire, Date.now());
    });
  }

  private async retire(tx: pg.PoolClient, table: string, at: number): Promise<void> {
    const retired = (await this.readSetting<RetiredTable[]>(tx, SETTINGS.retired)) ?? [];
    await this.writeSetting(tx, SETTINGS.retired, [...retired, { name: table, at }]);
  }

  async retiredTables(): Promise<RetiredTable[]> {
    return (await this.readSetting<RetiredTable[]>(this.pool, SETTINGS.retired)) ?? [];
  }

  // ------------------------------------------------------------ settings

  async getSetting<T>(key: string): Promise<T | undefined> {
    return this.readSetting<T>(this.pool, key);
  }

  async setSetting(key: string, value: unknown): Promise<void> {
    await this.transaction((tx) => this.writeSetting(tx, key, value));
  }

  async deleteSetting(key: string): Promise<void> {
    await this.transaction((tx) => tx.query("DELETE FROM store_settings WHERE key = $1", [key]));
  }

  async claimSetting<T>(key: string, value: T): Promise<T> {
    return this.transaction(async (tx) => {
      const existing = await this.readSetting<T>(tx, key);
      if (existing !== undefined) return existing;
      await this.writeSetting(tx, key, value);
      return value;
    });
  }

  private async readSetting<T>(db: Db, key: string): Promise<T | undefined> {
    const [row] = await rows<{ value: string }>(db, "SELECT value FROM store_settings WHERE key = $1", [key]);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  private async writeSetting(tx: pg.PoolClient, key: string, value: unknown): Promise<void> {
    await tx.query(
      "INSERT INTO store_settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
      [key, JSON.stringify(value), Date.now()],
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.snapshots.end()]);
  }
}
