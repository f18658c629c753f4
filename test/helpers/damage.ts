import { createRequire } from "node:module";
import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import Database from "better-sqlite3";
import { vectorSchema } from "../../src/store/vector-table.js";

// The same copy of apache-arrow LanceDB loads (see src/store/arrow.ts), or its instanceof checks fail.
const arrow = createRequire(import.meta.url)("apache-arrow") as typeof import("apache-arrow");

/** Writes a vector row straight into Lance for a chunk SQLite has never heard of, as a crashed or buggy writer might. */
export async function writeOrphanLanceRow(dataDir: string, chunkId: string, dimension: number, generation = 1_000_000): Promise<void> {
  const db = await lancedb.connect(join(dataDir, "lance"));
  try {
    const table = await db.openTable("chunks");
    const schema = vectorSchema(dimension);
    const vector = new Float32Array(dimension);
    vector[0] = 1;
    const columns = [
      arrow.vectorFromArray([chunkId], new arrow.Utf8()).data[0]!,
      arrow.makeData({ type: new arrow.Int64(), length: 1, data: BigInt64Array.from([BigInt(generation)]) }),
      arrow.vectorFromArray(["default"], new arrow.Utf8()).data[0]!,
      arrow.vectorFromArray([null], new arrow.Utf8()).data[0]!,
      arrow.makeData({ type: schema.fields[4]!.type, length: 1, nullCount: 0, child: arrow.makeData({ type: new arrow.Float32(), length: dimension, data: vector }) }),
    ];
    const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: 1, nullCount: 0, children: columns });
    await table.add(new arrow.Table(schema, new arrow.RecordBatch(schema, struct)));
    table.close();
  } finally {
    db.close();
  }
}

/** Gives a committed chunk a pending rewrite of its own content under a new generation, as if its writer died right after step 1. */
export function makeRecordPending(dataDir: string, chunkId: string): void {
  const db = new Database(join(dataDir, "metadata.db"));
  try {
    db.transaction(() => {
      const { generation } = db.prepare("UPDATE generation_seq SET next = next + 1 WHERE id = 1 RETURNING next - 1 AS generation").get() as { generation: number };
      const copied = db
        .prepare(
          `INSERT INTO pending_chunks (chunk_id, generation, collection, doc_id, text, metadata, content_hash, prev_generation, created_at, updated_at)
           SELECT chunk_id, ?, collection, doc_id, text, metadata, content_hash, generation, created_at, updated_at FROM chunks WHERE chunk_id = ?`,
        )
        .run(generation, chunkId).changes;
      const changed = db.prepare("UPDATE embedding_records SET status = 'pending', vector_committed = 0, generation = ? WHERE chunk_id = ? AND status = 'committed'").run(generation, chunkId).changes;
      if (copied !== 1 || changed !== 1) throw new Error(`no committed chunk ${chunkId}`);
    })();
  } finally {
    db.close();
  }
}

/** chunk_id -> generation of every live record. */
export function generations(dataDir: string): Map<string, number> {
  const db = new Database(join(dataDir, "metadata.db"), { readonly: true });
  try {
    const rows = db.prepare("SELECT chunk_id, generation FROM embedding_records WHERE status != 'tombstone'").all() as { chunk_id: string; generation: number }[];
    return new Map(rows.map((r) => [r.chunk_id, r.generation]));
  } finally {
    db.close();
  }
}
