import { arrow } from "./arrow.js";
import { StoreError, errorMessage } from "./errors.js";
import * as lancedb from "./lance.js";
import type { CommitLock } from "./commit-lock.js";
import { cachesWantRenewal, type LanceCacheUsage } from "./lance-connection.js";
import { scratchDuring } from "./lance-scratch.js";
import { corruptionMessage, findBrokenManifests } from "./lance-manifest.js";
import { chunkIdRangeCondition, type ChunkIdRange } from "./metadata-store.js";
import { sqlInteger, sqlString } from "./sql-literal.js";
import { releaseFreedMemory, type MemoryRelease } from "./native-memory.js";
import { liveIndexBytes, TableHandle } from "./table-handle.js";
import { tableLocation, type VectorsLocation } from "./vectors-location.js";

/** One Lance row: one generation (version) of one chunk. */
export interface VectorRow {
  chunkId: string;
  generation: number;
  collection: string;
  docId: string | null;
  /** What the keyword index sees of the text (lexical.ts). */
  lexical: string;
  /** The version's metadata as filter terms (meta-terms.ts). */
  terms: string[];
  vector: Float32Array;
}

/** A row a search found: `score` is cosine similarity for vectors, BM25 for keywords; higher is better. */
export interface Hit {
  chunkId: string;
  generation: number;
  score: number;
}

export interface VectorKey {
  chunkId: string;
  generation: number;
}

export interface IndexCoverage {
  name: string;
  type: string;
  indexed_rows: number;
  unindexed_rows: number;
}

export interface VectorTableStats {
  table: string;
  version: number;
  rows: number;
  fragments: number;
  small_fragments: number;
  /** The ANN index, or null while searches are exact. */
  index: IndexCoverage | null;
  /** The full-text (BM25) index; rows it does not cover yet are searched without it. */
  keyword_index: IndexCoverage | null;
}

/**
 * How long a cache renewal waits for the searches still running on the old
 * connection before freeing what it can: searches take milliseconds, and
 * one stuck in Lance must not hold maintenance (the watchdog reports it).
 */
const RETIRED_WAIT_MS = 10_000;
const VECTOR_INDEX = "vector_idx";
const KEYWORD_INDEX = "lexical_idx";
/**
 * Scalar indexes, kept by optimize(): BTREE on `generation` for the write's
 * check for rows already there and for lookups (a 32-row MergeInsert into
 * 100k rows keyed on it: 14.8 ms without the index, 7.1 ms with), on
 * `chunk_id` for GC's per-chunk deletes, on `doc_id` and a bitmap on `collection` for search scopes, and a label
 * list over the metadata terms for filters (a 1%-selective filter over
 * 100k rows: 5 ms p50 with it, the same as no filter).
 */
const SCALAR_INDEXES = [
  { column: "generation", name: "generation_idx", config: () => lancedb.Index.btree() },
  { column: "chunk_id", name: "chunk_id_idx", config: () => lancedb.Index.btree() },
  { column: "doc_id", name: "doc_id_idx", config: () => lancedb.Index.btree() },
  { column: "collection", name: "collection_idx", config: () => lancedb.Index.bitmap() },
  { column: "meta", name: "meta_idx", config: () => lancedb.Index.labelList() },
] as const;
/**
 * English stemming, lower-casing and accent folding on Lance's simple
 * tokenizer, as the SQLite FTS5 index had (porter unicode61
 * remove_diacritics). Stopwords stay in the index, so document lengths are
 * what BM25 expects; queries drop them (lexical.ts). No positions: no
 * phrase queries are made, and the index is smaller.
 */
const KEYWORD_INDEX_OPTIONS = { baseTokenizer: "simple", lowercase: true, stem: true, language: "English", asciiFolding: true, removeStopWords: false, withPosition: false } as const;
/**
 * Below this many rows, the write path rebuilds the keyword index before
 * step 3 (see foldIfSmall). LanceDB 0.31 scores rows its full-text index
 * does not cover yet with a BM25 that counts a word's occurrences as its
 * document frequency: where the index covers few rows, a word repeated in a
 * new row gets a negative weight and the row is not found (five rows all
 * saying "otters", searched before the first fold: none found; after it:
 * all five). Past a few hundred indexed rows only a query made of words
 * nearly every row contains can be affected, and such words score next to
 * nothing anyway; the background fold (maintenance.ts) then suffices. The
 * rebuild costs 2-10 ms a write at this size (100 rows: 9 ms on a
 * 2-core machine under heavy load).
 */
const SMALL_TABLE_ROWS = 500;
/** A range check reads at most this many rows per generation asked about (rows of other writers' generations in between). */
const RANGE_SPAN_PER_GENERATION = 4;
/**
 * Keys per delete predicate. With the chunk_id index, Lance refuses a filter
 * of 500 or more OR-ed conditions ("the filter expression is too long");
 * 499 passes (measured on 0.31). Half that leaves room.
 */
const DELETE_BATCH = 250;
/**
 * HNSW search breadth. At 100k chunks (bench:store) ef 64 gave recall@10
 * 0.80 on passage queries and 256 gave 0.95 for +0.2 ms. At 1M chunks
 * (bench:scale) an index grown by optimize since its training needs more:
 * trained at 560k, ef 256 / 384 / 512 / 640 gave 0.887 / 0.927 / 0.942 /
 * 0.953 at 4.9 / 6.0 / 7.0 / 8.1 ms p50. Once writes pause the index is
 * trained again at 1.25x growth (maintenance.ts), so it has seen at least
 * four fifths of the rows; at 384, one trained on 790k of 1M found 0.937,
 * one trained on all of them 0.968.
 */
export const DEFAULT_ANN_EF = 384;
/**
 * IVF partitions of the ANN index: one per 100,000 rows, each its own HNSW
 * graph, every one searched. Hash embeddings do not cluster, so a query's
 * neighbours are spread over all partitions: at 1M rows in 10 partitions,
 * searching 5 of them found recall@10 0.919 at ef 384, 3 found 0.809. And
 * one graph over 1M rows is worse on every count (m 20, ef 384, limit 25,
 * 200 passage queries against an exact scan, 2-core machine): recall 0.872
 * at 4.8 ms against 0.971 at 12.1 ms, 0.893 at ef 512; its build took 561 s
 * and peaked at 2,305 MB, against 278 s and 1,798 MB for 10 partitions.
 */
export const annPartitions = (rows: number): number => Math.max(1, Math.round(rows / 100_000));
/**
 * Stable row ids: a row keeps its id when compaction moves it, so a
 * compaction need not remap every index onto the rewritten fragments.
 * Without them, the first optimize after an ANN build rewrites the table
 * and the new index with it: 34 s at 220k rows of 384-d on this 2-core
 * machine, and 18 s more on the next one; with them 16 s, then 2.8 s. At
 * 1M rows that rewrite (a 1.8 GB data file and the ~500 MB index) took
 * longer than the 10-minute optimize watchdog. Only a table's creation can
 * set this; tables made before keep remapping until a reindex or migrate
 * writes them anew.
 */
const NEW_TABLE_OPTIONS = { new_table_enable_stable_row_ids: "true" };
/** Runs commits under whatever their caller must hold for them (see `VectorTable.open`). */
export type CommitGuard = <T>(work: () => Promise<T>) => Promise<T>;
const unguarded: CommitGuard = (work) => work();
/** The columns every table of this version has; a table without them was written by 0.1.0 (see `legacy`). */
const CURRENT_COLUMNS = ["lexical", "meta"];

export function vectorSchema(dimension: number): import("apache-arrow").Schema {
  return new arrow.Schema([
    new arrow.Field("chunk_id", new arrow.Utf8(), false),
    // A row per generation: unique across the store.
    new arrow.Field("generation", new arrow.Int64(), false),
    new arrow.Field("collection", new arrow.Utf8(), false),
    new arrow.Field("doc_id", new arrow.Utf8(), true),
    new arrow.Field("lexical", new arrow.Utf8(), false),
    new arrow.Field("meta", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false),
    new arrow.Field("vector", new arrow.FixedSizeList(dimension, new arrow.Field("item", new arrow.Float32(), true)), false),
  ]);
}

/** Rows as the Arrow table LanceDB writes. */
export function toArrowTable(schema: import("apache-arrow").Schema, dimension: number, rows: readonly VectorRow[]): import("apache-arrow").Table {
  const n = rows.length;
  const flat = new Float32Array(n * dimension);
  rows.forEach((row, i) => flat.set(row.vector, i * dimension));
  const field = (name: string) => schema.fields.find((f) => f.name === name)!.type;
  const columns = [
    arrow.vectorFromArray(rows.map((r) => r.chunkId), new arrow.Utf8()).data[0]!,
    arrow.makeData({ type: new arrow.Int64(), length: n, data: BigInt64Array.from(rows, (r) => BigInt(r.generation)) }),
    arrow.vectorFromArray(rows.map((r) => r.collection), new arrow.Utf8()).data[0]!,
    arrow.vectorFromArray(rows.map((r) => r.docId), new arrow.Utf8()).data[0]!,
    arrow.vectorFromArray(rows.map((r) => r.lexical), new arrow.Utf8()).data[0]!,
    arrow.vectorFromArray(rows.map((r) => r.terms), field("meta")).data[0]!,
    arrow.makeData({ type: field("vector"), length: n, nullCount: 0, child: arrow.makeData({ type: new arrow.Float32(), length: n * dimension, data: flat }) }),
  ];
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct));
}

/**
 * Lance commits optimistically: an index build or a delete that meets a
 * compaction committed meanwhile fails with a "retryable commit conflict"
 * and succeeds when simply run again on the newer version. Compaction
 * runs beside writes (maintenance.ts), so these are expected; five
 * attempts outlast any burst of them.
 */
const CONFLICT_ATTEMPTS = 5;

function isRetryableConflict(error: unknown): boolean {
  return /retryable commit conflict/i.test(errorMessage(error));
}

/** Lance SQL for "exactly these rows"; generations are unique across the store, so they name rows alone. */
function generationsIn(generations: readonly number[]): string {
  return `generation IN (${generations.map(sqlInteger).join(", ")})`;
}

/**
 * Lance SQL for rows that include these generations, maybe with others:
 * a range where the generations lie close together (a batch written at
 * once, the usual case), else the exact list. Over 300k rows, a range
 * check of 1,000 generations took 3 ms and the list 11 ms.
 */
function generationsCovering(generations: readonly number[]): string {
  let low = generations[0]!;
  let high = low;
  for (const g of generations) [low, high] = [Math.min(low, g), Math.max(high, g)];
  return high - low < RANGE_SPAN_PER_GENERATION * generations.length ? `generation >= ${sqlInteger(low)} AND generation <= ${sqlInteger(high)}` : generationsIn(generations);
}

function hits(result: import("apache-arrow").Table, score: (raw: number) => number, column: string): Hit[] {
  const ids = result.getChild("chunk_id")!;
  const gens = result.getChild("generation")!;
  const raw = result.getChild(column)!;
  const out: Hit[] = new Array(result.numRows);
  for (let i = 0; i < result.numRows; i++) out[i] = { chunkId: ids.get(i) as string, generation: Number(gens.get(i)), score: score(raw.get(i) as number) };
  return out;
}

/** LanceDB 0.31 says only "Table '<name>' was not found" (code GenericFailure) when there is none. */
const MISSING_TABLE = /^Table '.*' was not found/;

function isMissingTable(error: unknown): boolean {
  return MISSING_TABLE.test(errorMessage(error));
}

/** The table on a connection of its own (table-handle.ts); created first through `db` if missing. */
async function openOrCreate(db: lancedb.Connection, location: VectorsLocation, name: string, schema: import("apache-arrow").Schema): Promise<TableHandle> {
  try {
    return await TableHandle.open(location, name);
  } catch (error) {
    if (!isMissingTable(error)) throw error;
  }
  (await db.createEmptyTable(name, schema, { existOk: true, storageOptions: NEW_TABLE_OPTIONS })).close();
  return TableHandle.open(location, name);
}

/**
 * The Lance side of the store: one table of (chunk_id, generation,
 * collection, doc_id, lexical, meta, vector) with its vector, full-text and
 * scalar indexes. It only ever holds derived data; SQLite decides what exists.
 */
export class VectorTable {
  /**
   * Searches must use the distance the ANN index was trained with. Before
   * there is one, `dot` on unit vectors is the fastest exact scan; the
   * index uses `cosine`, because Lance 0.31's IVF_HNSW_SQ with `dot` loses
   * most true neighbours (measured: 12 of 58 exact matches found, against
   * 58 of 58 with cosine). On unit vectors both rank identically and
   * `1 - distance` is the cosine similarity.
   */
  private indexed = false;
  /**
   * The version this handle reads, kept by the handle's own writes and
   * refreshes: asking Lance costs ~2 ms, and searches compare it on every
   * call with the version other processes recorded in SQLite.
   */
  private current = 0;

  private constructor(
    private readonly handle: TableHandle,
    readonly name: string,
    readonly dimension: number,
    private readonly schema: import("apache-arrow").Schema,
    /** Written by 0.1.0: vectors only, to be rebuilt before use. */
    readonly legacy: boolean,
  ) {}

  /**
   * Whether the table exists, asked by opening it: listing the tables
   * lists the whole location, and an S3-compatible store that gets
   * delimited listings wrong (s3rver, which the tests use, does) would
   * report none. A table that is there but does not open counts as
   * present: open() then says what is wrong with it.
   */
  static async exists(db: lancedb.Connection, name: string): Promise<boolean> {
    try {
      (await db.openTable(name)).close();
      return true;
    } catch (error) {
      return !isMissingTable(error);
    }
  }

  /**
   * Opens the table, creating it when missing (call under the writer lock
   * then). A table written by 0.1.0 lacks the keyword and filter columns:
   * it opens `legacy`, good for reading its vectors while lance-upgrade.ts
   * rebuilds it. `guard` runs the commits that create indexes the table
   * lacks: a caller not holding the commit lock passes the store's
   * `besideWrites`, so that where the object store cannot order two commits
   * they wait for the lock.
   */
  static async open(db: lancedb.Connection, location: VectorsLocation, name: string, dimension: number, guard: CommitGuard = unguarded): Promise<VectorTable> {
    const where = tableLocation(location, name);
    const broken = location.kind === "directory" ? findBrokenManifests(where) : [];
    if (broken.length > 0) {
      throw new StoreError("lance_corrupt", corruptionMessage(location, name, `empty manifest ${broken.join(", ")}`));
    }
    const schema = vectorSchema(dimension);
    let handle: TableHandle;
    try {
      handle = await openOrCreate(db, location, name, schema);
    } catch (error) {
      throw new StoreError("lance_corrupt", corruptionMessage(location, name, errorMessage(error)), { cause: error });
    }
    const actual = await handle.use((table) => table.schema());
    const vectorField = actual.fields.find((f) => f.name === "vector");
    const actualDim = vectorField && arrow.DataType.isFixedSizeList(vectorField.type) ? vectorField.type.listSize : undefined;
    if (actualDim !== dimension || !actual.fields.some((f) => f.name === "generation")) {
      handle.close();
      throw new StoreError(
        "model_mismatch",
        `The vector table ${where} holds ${actualDim ?? "unknown"}-dimensional vectors but the store's model produces ${dimension}. Re-embed the store with \`retrieval-mcp reindex\` or use another --data-dir.`,
      );
    }
    const legacy = !CURRENT_COLUMNS.every((c) => actual.fields.some((f) => f.name === c));
    const vectors = new VectorTable(handle, name, dimension, schema, legacy);
    if (!legacy) await vectors.ensureIndexes(guard);
    await vectors.sync();
    return vectors;
  }

  get version(): number {
    return this.current;
  }

  /** Runs a Lance commit, again on the latest version when it lost a race to a concurrent compaction. */
  private committing<T>(commit: (table: lancedb.Table) => Promise<T>): Promise<T> {
    return this.handle.use(async (table) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await commit(table);
        } catch (error) {
          if (!isRetryableConflict(error) || attempt === CONFLICT_ATTEMPTS) throw error;
          await table.checkoutLatest();
        }
      }
    });
  }

  private async sync(): Promise<number> {
    this.current = await this.handle.use((table) => table.version());
    this.indexed = await this.hasVectorIndex();
    return this.current;
  }

  /**
   * In a small table, folds rows the keyword index does not cover yet into
   * it (see SMALL_TABLE_ROWS). Call under the writer lock, after an insert
   * and before the rows are committed. Returns the new version, or null
   * when the table is past that size.
   */
  async foldIfSmall(): Promise<number | null> {
    if ((await this.countRows()) >= SMALL_TABLE_ROWS) return null;
    await this.committing((table) => table.createIndex("lexical", { name: KEYWORD_INDEX, replace: true, config: lancedb.Index.fts(KEYWORD_INDEX_OPTIONS) }));
    return this.sync();
  }

  /** Other processes' commits are invisible until we move to the latest version. */
  async refresh(): Promise<void> {
    await this.handle.use((table) => table.checkoutLatest());
    await this.sync();
  }

  /**
   * Step 2 of the write: one Lance append, one commit, for the whole batch.
   * Each generation gets its own row, added beside the chunk's committed one
   * (which keeps serving until step 3). A generation the table already
   * holds is left as it is, so replays after a crash between steps 2 and 3
   * are harmless: the generations up to `lookUpTo` (those that may have been
   * appended before, see append.ts) are looked up in the generation index,
   * and the caller holds the commit lock, so no row can be added between the
   * lookup and the append. Per 1,000 rows of 384-d on this 2-core machine,
   * the lookup and the append take ~3 ms and ~8 ms whatever the table size;
   * the MergeInsert they replace grew from 10 ms on an empty table to 40 ms
   * at 200k rows, and took 111 ms a batch inside the store at 100k.
   */
  async insert(rows: readonly VectorRow[], lookUpTo: number): Promise<number> {
    const present = await this.presentGenerations(rows.filter((r) => r.generation <= lookUpTo).map((r) => r.generation));
    const fresh = present.size === 0 ? rows : rows.filter((r) => !present.has(r.generation));
    if (fresh.length === 0) return this.current;
    const result = await this.committing((table) => table.add(toArrowTable(this.schema, this.dimension, fresh)));
    this.current = result.version;
    return result.version;
  }

  /** Which of these generations the table holds. */
  private async presentGenerations(generations: readonly number[]): Promise<Set<number>> {
    if (generations.length === 0) return new Set();
    const result = await this.handle.use((table) => table.query().where(generationsCovering(generations)).select(["generation"]).toArrow());
    const column = result.getChild("generation")!;
    const wanted = new Set(generations);
    const present = new Set<number>();
    for (let i = 0; i < result.numRows; i++) {
      const generation = Number(column.get(i));
      if (wanted.has(generation)) present.add(generation);
    }
    return present;
  }

  /**
   * Nearest rows to `vector`, best first. `where` is a prefilter: Lance
   * applies it, from its scalar indexes, inside the search. Never
   * `fastSearch`: rows the index does not cover yet are searched too.
   * The rows come re-ranked by exact distance (refineFactor 1): quantised
   * HNSW alone confuses near-identical vectors. Callers ask for more rows
   * than they keep (firstLimit in search.ts), and those spare rows are the
   * candidates a larger refine factor would add, so it would only read
   * more vectors: at 1M rows, 367 rows re-ranked from 734 candidates took
   * 24.7 ms p50, from 367 19.6 ms.
   */
  nearest(vector: Float32Array, options: { limit: number; where: string | null; ef: number }): Promise<Hit[]> {
    return this.handle.use(async (table) => {
      let query = table
        .vectorSearch(vector)
        .distanceType(this.indexed ? "cosine" : "dot")
        .select(["chunk_id", "generation", "_distance"])
        .limit(options.limit)
        // HNSW must explore at least as many nodes as it returns.
        .ef(Math.max(options.ef, options.limit))
        .refineFactor(1);
      if (options.where) query = query.where(options.where);
      return hits(await query.toArrow(), (distance) => 1 - distance, "_distance");
    });
  }

  /**
   * Best BM25 matches of `terms` (space-separated, any of them), best
   * first, with the same prefilter semantics as `nearest`. The query is a
   * match query, never parsed as syntax.
   */
  keyword(terms: string, options: { limit: number; where: string | null }): Promise<Hit[]> {
    return this.handle.use(async (table) => {
      let query = table
        .query()
        .fullTextSearch(new lancedb.MatchQuery(terms, "lexical", { operator: lancedb.Operator.Or }))
        .select(["chunk_id", "generation", "_score"])
        .limit(options.limit);
      if (options.where) query = query.where(options.where);
      // Lance does not return full-text matches in score order.
      return hits(await query.toArrow(), (score) => score, "_score").sort((a, b) => b.score - a.score);
    });
  }

  /** BM25 scores of these rows for `terms` (rows that match none of them are absent). */
  async keywordScores(terms: string, generations: readonly number[]): Promise<Map<number, number>> {
    if (generations.length === 0) return new Map();
    const found = await this.keyword(terms, { limit: generations.length, where: generationsIn(generations) });
    return new Map(found.map((h) => [h.generation, h.score]));
  }

  /** The vectors of these generations (those the table holds). */
  async vectorsOf(generations: readonly number[]): Promise<Map<number, Float32Array>> {
    const out = new Map<number, Float32Array>();
    if (generations.length === 0) return out;
    const result = await this.handle.use((table) => table.query().where(generationsIn(generations)).select(["generation", "vector"]).toArrow());
    const gens = result.getChild("generation")!;
    const vectors = result.getChild("vector")!;
    for (let i = 0; i < result.numRows; i++) {
      const vector = vectors.get(i) as { toArray(): Float32Array };
      out.set(Number(gens.get(i)), Float32Array.from(vector.toArray()));
    }
    return out;
  }

  /** The (chunk_id, generation) of every row whose chunk id is in the range (byte order, as SQLite and PostgreSQL compare), duplicates included. */
  async keys(range: ChunkIdRange): Promise<VectorKey[]> {
    const where = chunkIdRangeCondition("chunk_id", range, sqlString);
    const result = await this.handle.use((table) => {
      const query = table.query().select(["chunk_id", "generation"]);
      return (where ? query.where(where) : query).toArrow();
    });
    const ids = result.getChild("chunk_id")!;
    const gens = result.getChild("generation")!;
    const keys: VectorKey[] = new Array(result.numRows);
    for (let i = 0; i < result.numRows; i++) keys[i] = { chunkId: ids.get(i) as string, generation: Number(gens.get(i)) };
    return keys;
  }

  /**
   * Deletes the given chunks' rows up to a generation each. Bounded by
   * generation so a newer write of the same chunk, committed meanwhile,
   * is never touched. Returns the new table version, or null when nothing
   * was asked.
   */
  deleteUpTo(keys: readonly VectorKey[]): Promise<number | null> {
    return this.deleteWhere(keys, (k) => `(chunk_id = ${sqlString(k.chunkId)} AND generation <= ${sqlInteger(k.generation)})`);
  }

  /** Deletes exactly these rows: a stale row between a chunk's committed and pending versions must go alone. */
  deleteExactly(keys: readonly VectorKey[]): Promise<number | null> {
    return this.deleteWhere(keys, (k) => `(chunk_id = ${sqlString(k.chunkId)} AND generation = ${sqlInteger(k.generation)})`);
  }

  private async deleteWhere(keys: readonly VectorKey[], predicate: (key: VectorKey) => string): Promise<number | null> {
    if (keys.length === 0) return null;
    let version: number | null = null;
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const where = keys.slice(i, i + DELETE_BATCH).map(predicate).join(" OR ");
      version = this.current = (await this.committing((table) => table.delete(where))).version;
    }
    return version;
  }

  /** Rows matching a Lance predicate (from the scalar indexes: about a millisecond for a label filter over 100k rows), or all rows. */
  countRows(where?: string): Promise<number> {
    return this.handle.use((table) => table.countRows(where));
  }

  /** Compacts small fragments, folds new rows into every index and prunes old versions. Returns the new version. */
  async optimize(keepVersionsForMs: number): Promise<number> {
    await this.ensureIndexes();
    await scratchDuring(() => this.committing((table) => table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsForMs) })));
    return this.sync();
  }

  /** The full-text and scalar indexes, created on an empty table too: rows added later are searched unindexed until optimize folds them in. */
  private async ensureIndexes(guard: CommitGuard = unguarded): Promise<void> {
    if ((await this.missingIndexes()).length === 0) return;
    await guard(async () => {
      // Another process may have created them while this one waited for the lock.
      await this.handle.use((table) => table.checkoutLatest());
      for (const { column, name, config } of await this.missingIndexes()) await this.committing((table) => table.createIndex(column, { name, config: config() }));
    });
  }

  private async missingIndexes(): Promise<{ column: string; name: string; config: () => lancedb.Index }[]> {
    const present = new Set((await this.handle.use((table) => table.listIndices())).map((i) => i.name));
    const keyword = { column: "lexical", name: KEYWORD_INDEX, config: () => lancedb.Index.fts(KEYWORD_INDEX_OPTIONS) };
    return [...SCALAR_INDEXES, keyword].filter((index) => !present.has(index.name));
  }

  async hasVectorIndex(): Promise<boolean> {
    return (await this.handle.use((table) => table.listIndices())).some((i) => i.name === VECTOR_INDEX);
  }

  /** IVF_HNSW_SQ: a few ms at 100k rows with recall@10 near 0.97 (see `indexed`). */
  async createVectorIndex(rows: number): Promise<number> {
    await scratchDuring(() =>
      this.committing((table) =>
        table.createIndex("vector", {
          name: VECTOR_INDEX,
          replace: true,
          config: lancedb.Index.hnswSq({ distanceType: "cosine", numPartitions: annPartitions(rows) }),
        }),
      ),
    );
    return this.sync();
  }

  private async coverage(name: string, indices: readonly lancedb.IndexConfig[]): Promise<IndexCoverage | null> {
    const index = indices.find((i) => i.name === name);
    const stats = index ? await this.handle.use((table) => table.indexStats(name)) : undefined;
    return index && stats ? { name, type: stats.indexType, indexed_rows: stats.numIndexedRows, unindexed_rows: stats.numUnindexedRows } : null;
  }

  async stats(): Promise<VectorTableStats> {
    const [version, stats, indices] = await this.handle.use((table) => Promise.all([table.version(), table.stats(), table.listIndices()]));
    return {
      table: this.name,
      version,
      rows: stats.numRows,
      fragments: stats.fragmentStats.numFragments,
      small_fragments: stats.fragmentStats.numSmallFragments,
      index: await this.coverage(VECTOR_INDEX, indices),
      keyword_index: await this.coverage(KEYWORD_INDEX, indices),
    };
  }

  /** What this table's connection caches hold. */
  cacheUsage(): LanceCacheUsage {
    return this.handle.cacheUsage();
  }

  /** Bytes of the files of the indexes the latest version uses, by Lance's count; null if an index does not track its size. */
  async liveIndexBytes(): Promise<number | null> {
    return liveIndexBytes(await this.handle.use((table) => table.listIndices()));
  }

  /** Whether the caches hold mostly dead entries (see cachesWantRenewal); never where the indexes do not tell their size. */
  async cachesWantRenewal(floorBytes: number): Promise<boolean> {
    const live = await this.liveIndexBytes();
    return live !== null && cachesWantRenewal(this.cacheUsage(), live, this.handle.cacheBytesPerIndexByte, floorBytes);
  }

  /**
   * Moves the table to a fresh connection, switching under `lock`, frees
   * the old connection's caches once the searches on it have ended (or
   * RETIRED_WAIT_MS has passed: the next renewal, or V8 itself, frees them then), then
   * loads the live indexes on the new one. Freeing first: loading first
   * would hold both connections' caches at once, at 1M chunks a gigabyte
   * more (the vector index's prewarm takes 16 s there). Meanwhile searches
   * load what they need themselves.
   */
  async renewCaches(lock: CommitLock): Promise<MemoryRelease> {
    const fresh = await this.handle.openFresh();
    const { retired } = await lock.run(async () => {
      const switched = await this.handle.switchTo(fresh);
      await this.sync();
      return switched;
    });
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([retired, new Promise((resolve) => (waited = setTimeout(resolve, RETIRED_WAIT_MS)))]);
    clearTimeout(waited);
    const released = await releaseFreedMemory({ collect: true });
    await this.handle.prewarm();
    return released;
  }

  close(): void {
    this.handle.close();
  }
}
