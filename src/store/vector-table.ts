import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { arrow } from "./arrow.js";
import { StoreError, errorMessage } from "./errors.js";
import { sqlInteger, sqlString } from "./sql-literal.js";

/** One Lance row: the vector of one generation of one chunk. */
export interface VectorRow {
  chunkId: string;
  generation: number;
  collection: string;
  docId: string | null;
  vector: Float32Array;
}

export interface VectorHit {
  chunkId: string;
  generation: number;
  distance: number;
}

export interface VectorKey {
  chunkId: string;
  generation: number;
}

export interface VectorTableStats {
  table: string;
  version: number;
  rows: number;
  fragments: number;
  small_fragments: number;
  index: null | { name: string; type: string; indexed_rows: number; unindexed_rows: number };
}

export interface AnnSettings {
  /** Build an ANN index once the table holds this many rows. */
  minRows: number;
  /** HNSW search breadth; larger is slower and more exact. */
  ef: number;
}

const VECTOR_INDEX = "vector_idx";
const KEY_INDEX = "chunk_id_idx";
const REFINE_FACTOR = 2;
/**
 * Keys per delete predicate. With the chunk_id index, Lance refuses a filter
 * of 500 or more OR-ed conditions ("the filter expression is too long");
 * 499 passes (measured on 0.31). Half that leaves room.
 */
const DELETE_BATCH = 250;
/** HNSW search breadth. Measured at 100k chunks (bench:store): ef 64 gave recall@10 0.80 on passage queries, 256 gives 0.95 for +0.2 ms. */
export const DEFAULT_ANN_EF = 256;

// Lance logs a deprecation warning on every index-statistics call unless told which behaviour to use.
process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= "false";

export function vectorSchema(dimension: number): import("apache-arrow").Schema {
  return new arrow.Schema([
    // chunk_id first, explicitly Utf8: MergeInsert keys on it.
    new arrow.Field("chunk_id", new arrow.Utf8(), false),
    new arrow.Field("generation", new arrow.Int64(), false),
    new arrow.Field("collection", new arrow.Utf8(), false),
    new arrow.Field("doc_id", new arrow.Utf8(), true),
    new arrow.Field("vector", new arrow.FixedSizeList(dimension, new arrow.Field("item", new arrow.Float32(), true)), false),
  ]);
}

function toArrowTable(schema: import("apache-arrow").Schema, dimension: number, rows: readonly VectorRow[]): import("apache-arrow").Table {
  const n = rows.length;
  const flat = new Float32Array(n * dimension);
  rows.forEach((row, i) => flat.set(row.vector, i * dimension));
  const vectorType = schema.fields[4]!.type;
  const columns = [
    arrow.vectorFromArray(rows.map((r) => r.chunkId), new arrow.Utf8()).data[0]!,
    arrow.makeData({ type: new arrow.Int64(), length: n, data: BigInt64Array.from(rows, (r) => BigInt(r.generation)) }),
    arrow.vectorFromArray(rows.map((r) => r.collection), new arrow.Utf8()).data[0]!,
    arrow.vectorFromArray(rows.map((r) => r.docId), new arrow.Utf8()).data[0]!,
    arrow.makeData({ type: vectorType, length: n, nullCount: 0, child: arrow.makeData({ type: new arrow.Float32(), length: n * dimension, data: flat }) }),
  ];
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct));
}

/**
 * A power cut can leave the newest manifest empty; LanceDB then fails to
 * open the table with an unhelpful error. Check for it first and say how to
 * repair: drop the broken manifest so the table opens at the previous
 * version, then let recovery re-write what that version lacks.
 */
export function findBrokenManifests(tableDir: string): string[] {
  const versions = join(tableDir, "_versions");
  if (!existsSync(versions)) return [];
  return readdirSync(versions)
    .filter((f) => f.endsWith(".manifest"))
    .map((f) => join(versions, f))
    .filter((path) => statSync(path).size === 0);
}

/**
 * Moves the newest manifest out of `_versions` (renamed, never deleted, so
 * nothing is destroyed) so the table opens at the version before it. Used
 * only after opening failed: an empty or unreadable newest manifest is what
 * an interrupted commit leaves. Returns where it went, or null if none is left.
 */
export function quarantineNewestManifest(tableDir: string): string | null {
  const versions = join(tableDir, "_versions");
  if (!existsSync(versions)) return null;
  // Manifest names are u64::MAX - version: the newest sorts first.
  const newest = readdirSync(versions)
    .filter((f) => f.endsWith(".manifest"))
    .sort()[0];
  if (!newest) return null;
  const path = join(versions, newest);
  const aside = `${path}.broken-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

export function corruptionMessage(tableDir: string, detail: string): string {
  return (
    `The vector table at ${tableDir} cannot be opened (${detail}). This usually means a power loss or a full disk interrupted a write. ` +
    `Run \`retrieval-mcp verify --repair --data-dir <dir>\`: it sets the broken newest manifest aside (the table falls back to its previous version) ` +
    `and re-writes every vector that version lacks from the metadata database. Nothing acknowledged is lost: SQLite holds the authoritative state.`
  );
}

/**
 * A BTREE index on the MergeInsert key: without it every MergeInsert and
 * every GC delete scans all chunk ids (a 32-row MergeInsert into 100k rows:
 * 14.8 ms without, 7.1 ms with). optimize() folds new rows into it.
 */
async function ensureKeyIndex(table: lancedb.Table): Promise<void> {
  if ((await table.listIndices()).some((i) => i.name === KEY_INDEX)) return;
  await table.createIndex("chunk_id", { name: KEY_INDEX, config: lancedb.Index.btree() });
}

/**
 * The Lance side of the store: one table of (chunk_id, generation,
 * collection, doc_id, vector). It only ever holds derived data; SQLite
 * decides what exists.
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
    private readonly table: lancedb.Table,
    readonly name: string,
    readonly dimension: number,
    private readonly schema: import("apache-arrow").Schema,
  ) {}

  static tableDir(lanceDir: string, name: string): string {
    return join(lanceDir, `${name}.lance`);
  }

  static async exists(db: lancedb.Connection, name: string): Promise<boolean> {
    return (await db.tableNames()).includes(name);
  }

  /** Opens the table, creating it when missing. Call under the writer lock when it may create. */
  static async open(db: lancedb.Connection, lanceDir: string, name: string, dimension: number): Promise<VectorTable> {
    const dir = VectorTable.tableDir(lanceDir, name);
    const broken = findBrokenManifests(dir);
    if (broken.length > 0) {
      throw new StoreError("lance_corrupt", corruptionMessage(dir, `empty manifest ${broken.join(", ")}`));
    }
    const schema = vectorSchema(dimension);
    let table: lancedb.Table;
    try {
      if (await VectorTable.exists(db, name)) {
        table = await db.openTable(name);
      } else {
        table = await db.createEmptyTable(name, schema, { existOk: true });
        await ensureKeyIndex(table);
      }
    } catch (error) {
      throw new StoreError("lance_corrupt", corruptionMessage(dir, errorMessage(error)), { cause: error });
    }
    const actual = await table.schema();
    const vectorField = actual.fields.find((f) => f.name === "vector");
    const actualDim = vectorField && arrow.DataType.isFixedSizeList(vectorField.type) ? vectorField.type.listSize : undefined;
    if (actualDim !== dimension || !actual.fields.some((f) => f.name === "generation")) {
      throw new StoreError(
        "model_mismatch",
        `The vector table ${dir} holds ${actualDim ?? "unknown"}-dimensional vectors but the store's model produces ${dimension}. Re-embed the store with \`retrieval-mcp reindex\` or use another --data-dir.`,
      );
    }
    const vectors = new VectorTable(table, name, dimension, schema);
    await vectors.sync();
    return vectors;
  }

  get version(): number {
    return this.current;
  }

  private async sync(): Promise<number> {
    this.current = await this.table.version();
    this.indexed = await this.hasVectorIndex();
    return this.current;
  }

  /** Other processes' commits are invisible until we move to the latest version. */
  async refresh(): Promise<void> {
    await this.table.checkoutLatest();
    await this.sync();
  }

  /**
   * Step 2 of the write: one MergeInsert, one Lance commit, for the whole
   * batch. An older generation is replaced; an equal or newer one is kept,
   * so replays and out-of-order writers are harmless.
   */
  async upsert(rows: readonly VectorRow[]): Promise<number> {
    const result = await this.table
      .mergeInsert("chunk_id")
      .whenMatchedUpdateAll({ where: "target.generation < source.generation" })
      .whenNotMatchedInsertAll()
      .execute(toArrowTable(this.schema, this.dimension, rows));
    if (result.numInsertedRows + result.numUpdatedRows > rows.length) {
      throw new StoreError("lance_write_failed", `Lance reported ${result.numInsertedRows} inserted and ${result.numUpdatedRows} updated rows for a batch of ${rows.length}.`);
    }
    this.current = result.version;
    return result.version;
  }

  async search(vector: Float32Array, limit: number, where: string | null, ef: number): Promise<VectorHit[]> {
    let query = this.table
      .vectorSearch(vector)
      .distanceType(this.indexed ? "cosine" : "dot")
      .select(["chunk_id", "generation", "_distance"])
      .limit(limit)
      // HNSW must explore at least as many nodes as the refine step reads.
      .ef(Math.max(ef, limit * REFINE_FACTOR))
      // Re-ranks the ANN candidates by exact distance: quantised HNSW alone
      // confuses near-identical vectors.
      .refineFactor(REFINE_FACTOR);
    if (where) query = query.where(where);
    const result = await query.toArrow();
    const ids = result.getChild("chunk_id")!;
    const gens = result.getChild("generation")!;
    const dists = result.getChild("_distance")!;
    const hits: VectorHit[] = new Array(result.numRows);
    for (let i = 0; i < result.numRows; i++) {
      hits[i] = { chunkId: ids.get(i) as string, generation: Number(gens.get(i)), distance: dists.get(i) as number };
    }
    return hits;
  }

  /** Every (chunk_id, generation) the table holds, duplicates included. */
  async keys(): Promise<VectorKey[]> {
    const result = await this.table.query().select(["chunk_id", "generation"]).toArrow();
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
  async deleteUpTo(keys: readonly VectorKey[]): Promise<number | null> {
    if (keys.length === 0) return null;
    let version: number | null = null;
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const predicate = keys
        .slice(i, i + DELETE_BATCH)
        .map((k) => `(chunk_id = ${sqlString(k.chunkId)} AND generation <= ${sqlInteger(k.generation)})`)
        .join(" OR ");
      version = this.current = (await this.table.delete(predicate)).version;
    }
    return version;
  }

  async countRows(): Promise<number> {
    return this.table.countRows();
  }

  /** Compacts small fragments, folds new rows into the ANN index and prunes old versions. Returns the new version. */
  async optimize(keepVersionsForMs: number): Promise<number> {
    await ensureKeyIndex(this.table);
    await this.table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsForMs) });
    return this.sync();
  }

  async hasVectorIndex(): Promise<boolean> {
    return (await this.table.listIndices()).some((i) => i.name === VECTOR_INDEX);
  }

  /** IVF_HNSW_SQ: a few ms at 100k rows with recall@10 near 0.97 (see `indexed`). */
  async createVectorIndex(rows: number): Promise<number> {
    await this.table.createIndex("vector", {
      name: VECTOR_INDEX,
      replace: true,
      config: lancedb.Index.hnswSq({ distanceType: "cosine", numPartitions: Math.max(1, Math.round(rows / 100_000)) }),
    });
    return this.sync();
  }

  async stats(): Promise<VectorTableStats> {
    const [version, stats, indices] = await Promise.all([this.table.version(), this.table.stats(), this.table.listIndices()]);
    const vectorIndex = indices.find((i) => i.name === VECTOR_INDEX);
    const indexStats = vectorIndex ? await this.table.indexStats(VECTOR_INDEX) : undefined;
    return {
      table: this.name,
      version,
      rows: stats.numRows,
      fragments: stats.fragmentStats.numFragments,
      small_fragments: stats.fragmentStats.numSmallFragments,
      index:
        vectorIndex && indexStats
          ? { name: vectorIndex.name, type: indexStats.indexType, indexed_rows: indexStats.numIndexedRows, unindexed_rows: indexStats.numUnindexedRows }
          : null,
    };
  }

  close(): void {
    this.table.close();
  }
}
