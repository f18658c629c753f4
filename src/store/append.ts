import type { MetadataStore } from "./metadata-store.js";
import { SETTINGS } from "./settings-keys.js";
import type { VectorRow, VectorTable } from "./vector-table.js";

/**
 * Step 2's Lance write, for every path that adds rows to a table (writes
 * and their recovery, reindex, copies, the rebuild of a 0.1.0 table). Call
 * it holding the commit lock. Returns the table's new version, recorded
 * for other processes.
 *
 * VectorTable.insert makes a replay harmless by looking up which
 * generations the table holds already; the lookup scans the generation
 * column of every fragment the generation index does not cover yet, and
 * with 64 single-chunk writes in flight it grew from 15 to 39 ms a commit
 * over 150 commits, three times the append itself (11 ms). The table's
 * append mark spares it for fresh writes: it bounds the generations any
 * writer may have appended to the table, and is raised before each append,
 * so a generation above it cannot be there. A table without a mark (written
 * before marks existed) starts from the highest generation ever allocated.
 */
export async function appendRows(meta: MetadataStore, table: VectorTable, rows: readonly VectorRow[]): Promise<number> {
  const key = `${SETTINGS.appendMark}:${table.name}`;
  const recorded = await meta.getSetting<number>(key);
  const mark = recorded ?? (await meta.nextGeneration()) - 1;
  let top = mark;
  for (const row of rows) top = Math.max(top, row.generation);
  // Before the append: a crash between the two leaves the mark above what the table holds, never below.
  if (top !== recorded) await meta.setSetting(key, top);
  const version = await table.insert(rows, mark);
  await meta.noteLanceVersion(table.name, version);
  return version;
}
