import { join } from "node:path";
import Database from "better-sqlite3";
import * as lancedb from "../../src/store/lance.js";
import { sqlString } from "../../src/store/sql-literal.js";
import { toArrowTable, vectorSchema } from "../../src/store/vector-table.js";

/** Writes a vector row straight into Lance for a chunk SQLite has never heard of, as a crashed or buggy writer might. */
export async function writeOrphanLanceRow(dataDir: string, chunkId: string, dimension: number, generation = 1_000_000): Promise<void> {
  const db = await lancedb.connect(join(dataDir, "lance"));
  try {
    const table = await db.openTable("chunks");
    const vector = new Float32Array(dimension);
    vector[0] = 1;
    const row = { chunkId, generation, collection: "default", docId: null, lexical: "ghost", terms: [], vector };
    await table.add(toArrowTable(vectorSchema(dimension), dimension, [row]));
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

/** Deletes a chunk's rows straight from Lance, as a lost write would leave it. */
export async function deleteLanceRows(dataDir: string, chunkId: string): Promise<void> {
  const db = await lancedb.connect(join(dataDir, "lance"));
  try {
    const table = await db.openTable("chunks");
    await table.delete(`chunk_id = ${sqlString(chunkId)}`);
    table.close();
  } finally {
    db.close();
  }
}
