/**
 * The reference: LanceDB used directly, with no SQLite, no group commit and
 * no join, on the store's own schema and with the store's own MergeInsert
 * clause, so the difference to the store is the store's overhead and
 * nothing else.
 */
import * as lancedb from "@lancedb/lancedb";
import { arrow } from "../../src/store/arrow.js";
import { vectorSchema } from "../../src/store/vector-table.js";

export interface RawSearch {
  distance: "dot" | "cosine";
  limit: number;
  ef: number;
  /** null leaves refinement off: the ANN's quantised distances decide the order. */
  refine: number | null;
}

export interface RawHit {
  chunkId: string;
  distance: number;
}

export async function createRawTable(dir: string, name: string, dimension: number): Promise<lancedb.Table> {
  const db = await lancedb.connect(dir);
  const table = await db.createEmptyTable(name, vectorSchema(dimension));
  // The store keeps a BTREE on its MergeInsert key; without one each MergeInsert scans the table.
  await table.createIndex("generation", { config: lancedb.Index.btree() });
  return table;
}

export async function openRawTable(dir: string, name: string): Promise<lancedb.Table> {
  return (await lancedb.connect(dir)).openTable(name);
}

/** Rows `from`..`to` of `flat` as one Arrow batch, the vector column wrapping the floats without a copy. */
export function arrowBatch(
  dimension: number,
  flat: Float32Array,
  from: number,
  to: number,
  row: { chunkId: (i: number) => string; docId: (i: number) => string; text: (i: number) => string },
): import("apache-arrow").Table {
  const schema = vectorSchema(dimension);
  const n = to - from;
  const column = (f: (i: number) => string) => arrow.vectorFromArray(Array.from({ length: n }, (_, j) => f(from + j)), new arrow.Utf8()).data[0]!;
  const field = (name: string) => schema.fields.find((f) => f.name === name)!.type;
  const columns = [
    column(row.chunkId),
    // One generation per row, as the store numbers versions: the MergeInsert key.
    arrow.makeData({ type: new arrow.Int64(), length: n, data: BigInt64Array.from({ length: n }, (_, j) => BigInt(from + j + 1)) }),
    column(() => "default"),
    column(row.docId),
    // The text the keyword index reads; the store writes it in the same MergeInsert.
    column(row.text),
    arrow.vectorFromArray(Array.from({ length: n }, () => []), field("meta")).data[0]!,
    arrow.makeData({
      type: field("vector"),
      length: n,
      nullCount: 0,
      child: arrow.makeData({ type: new arrow.Float32(), length: n * dimension, data: flat.subarray(from * dimension, to * dimension) }),
    }),
  ];
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct));
}

/** The store's step 2, verbatim: MergeInsert on the generation, inserting versions not there yet. */
export async function mergeInsert(table: lancedb.Table, batch: import("apache-arrow").Table): Promise<number> {
  const result = await table.mergeInsert("generation").whenNotMatchedInsertAll().execute(batch);
  return result.version;
}

export async function search(table: lancedb.Table, vector: Float32Array, s: RawSearch): Promise<RawHit[]> {
  let query = table.vectorSearch(vector).distanceType(s.distance).select(["chunk_id", "_distance"]).limit(s.limit).ef(s.ef);
  if (s.refine !== null) query = query.refineFactor(s.refine);
  const result = await query.toArrow();
  const ids = result.getChild("chunk_id")!;
  const distances = result.getChild("_distance")!;
  const hits: RawHit[] = new Array(result.numRows);
  for (let i = 0; i < result.numRows; i++) hits[i] = { chunkId: ids.get(i) as string, distance: distances.get(i) as number };
  return hits;
}
