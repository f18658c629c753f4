/**
 * The reference: one LanceDB table used directly, built from the same
 * chunks and vectors the store holds, with LanceDB's own ANN index (the
 * store's type, IVF_HNSW_SQ with cosine) and its own full-text index
 * (BM25) on a text column. No SQLite, no join, no snapshot: what LanceDB
 * alone costs on this data.
 */
import * as lancedb from "@lancedb/lancedb";
import { arrow } from "../../src/store/arrow.js";
import { annPartitions } from "../../src/store/vector-table.js";
import { search, type RawHit, type RawSearch } from "../store/raw-lance.js";

const TABLE = "raw";
const VECTOR_INDEX = "vector_idx";
const TEXT_INDEX = "text_idx";

function schema(dimension: number): import("apache-arrow").Schema {
  return new arrow.Schema([
    new arrow.Field("chunk_id", new arrow.Utf8(), false),
    new arrow.Field("text", new arrow.Utf8(), false),
    new arrow.Field("vector", new arrow.FixedSizeList(dimension, new arrow.Field("item", new arrow.Float32(), true)), false),
  ]);
}

export class RawReference {
  private constructor(
    private readonly table: lancedb.Table,
    private readonly schema: import("apache-arrow").Schema,
    readonly dimension: number,
  ) {}

  /** Opens the table in `dir`, creating it (with a BTREE on the MergeInsert key, as the store keeps one) when missing. */
  static async open(dir: string, dimension: number): Promise<RawReference> {
    const db = await lancedb.connect(dir);
    const s = schema(dimension);
    if ((await db.tableNames()).includes(TABLE)) return new RawReference(await db.openTable(TABLE), s, dimension);
    const table = await db.createEmptyTable(TABLE, s);
    await table.createIndex("chunk_id", { config: lancedb.Index.btree() });
    return new RawReference(table, s, dimension);
  }

  rows(): Promise<number> {
    return this.table.countRows();
  }

  /** One batched MergeInsert keyed on chunk_id, inserting rows not there yet: the store's step 2 without the store. */
  async insert(ids: readonly string[], texts: readonly string[], vectors: Float32Array): Promise<void> {
    const n = ids.length;
    const vectorType = this.schema.fields[2]!.type;
    const columns = [
      arrow.vectorFromArray(ids, new arrow.Utf8()).data[0]!,
      arrow.vectorFromArray(texts, new arrow.Utf8()).data[0]!,
      arrow.makeData({ type: vectorType, length: n, nullCount: 0, child: arrow.makeData({ type: new arrow.Float32(), length: vectors.length, data: vectors }) }),
    ];
    const struct = arrow.makeData({ type: new arrow.Struct(this.schema.fields), length: n, nullCount: 0, children: columns });
    await this.table
      .mergeInsert("chunk_id")
      .whenNotMatchedInsertAll()
      .execute(new arrow.Table(this.schema, new arrow.RecordBatch(this.schema, struct)));
  }

  /** Compacts the small fragments batched inserts leave, folds new rows into the key index and drops old versions. */
  async compact(): Promise<void> {
    await this.table.optimize({ cleanupOlderThan: new Date() });
  }

  /**
   * Drops the vector and full-text indexes once a checkpoint is measured:
   * the next checkpoint builds them afresh, and meanwhile the reference's
   * ingest is MergeInsert alone, the upper bound the store is compared with.
   */
  async dropSearchIndexes(): Promise<void> {
    const present = new Set((await this.table.listIndices()).map((i) => i.name));
    for (const name of [VECTOR_INDEX, TEXT_INDEX]) if (present.has(name)) await this.table.dropIndex(name);
  }

  /** Builds the ANN index afresh over every row (trained on the table as it is now). */
  async buildVectorIndex(rows: number): Promise<void> {
    await this.table.createIndex("vector", {
      name: VECTOR_INDEX,
      replace: true,
      config: lancedb.Index.hnswSq({ distanceType: "cosine", numPartitions: annPartitions(rows) }),
    });
  }

  /** Builds LanceDB's full-text (BM25) index on the text column with its default tokenizer. */
  async buildTextIndex(): Promise<void> {
    await this.table.createIndex("text", { name: TEXT_INDEX, replace: true, config: lancedb.Index.fts() });
  }

  vectorSearch(vector: Float32Array, settings: RawSearch): Promise<RawHit[]> {
    return search(this.table, vector, settings);
  }

  /** LanceDB's own full-text query: BM25 over the FTS index, best first. */
  async textSearch(query: string, limit: number): Promise<string[]> {
    // `_score` selected explicitly: Lance warns on every query that leaves it out.
    const result = await this.table.query().fullTextSearch(query, { columns: "text" }).select(["chunk_id", "_score"]).limit(limit).toArrow();
    const ids = result.getChild("chunk_id")!;
    return Array.from({ length: result.numRows }, (_, i) => ids.get(i) as string);
  }

  close(): void {
    this.table.close();
  }
}
