import { appendRows } from "./append.js";
import type * as lancedb from "./lance.js";
import type { MetadataStore } from "./metadata-store.js";
import { SETTINGS } from "./settings-keys.js";
import { VectorTable } from "./vector-table.js";
import type { VectorsLocation } from "./vectors-location.js";
import { versionRow } from "./version-row.js";

/** Committed versions copied per step: 2,000 scattered vector reads take ~50 ms. */
const BATCH = 2000;

/**
 * Rebuilds a vector table written by 0.1.0, which holds vectors only, into
 * a new table with the keyword and filter columns. Every committed
 * version's row is copied, its vector read back from the old table by
 * generation and its text and metadata taken from SQLite, so nothing is
 * re-embedded; pending versions are left for recovery to write again.
 * Then the store switches to the new table in one transaction, and the
 * old one is retired (GC drops it once readers have moved on). Runs under
 * the writer lock; a run cut short leaves the old table active and starts
 * over next time. Returns the new table's name.
 */
export async function rebuildLegacyTable(
  connection: lancedb.Connection,
  meta: MetadataStore,
  legacy: VectorTable,
  location: VectorsLocation,
  log: (message: string) => void,
): Promise<string> {
  const abandoned = await meta.getSetting<string>(SETTINGS.upgrade);
  if (abandoned !== undefined && (await VectorTable.exists(connection, abandoned))) await connection.dropTable(abandoned);
  const name = `chunks_${Date.now().toString(36)}`;
  await meta.setSetting(SETTINGS.upgrade, name);
  const target = await VectorTable.open(connection, location, name, legacy.dimension);
  try {
    log(`rebuilding the vector table ${legacy.name} written by an earlier version, with the keyword index and filter columns, as ${name}`);
    let copied = 0;
    for (let cursor = 0; ; ) {
      const work = await meta.committedAfter(cursor, BATCH);
      if (work.length === 0) break;
      const vectors = await legacy.vectorsOf(work.map((w) => w.generation));
      const rows = work.flatMap((w) => {
        const vector = vectors.get(w.generation);
        // A vector the old table lost stays missing: verify --repair re-embeds it.
        return vector ? [versionRow(w, vector)] : [];
      });
      if (rows.length > 0) await appendRows(meta, target, rows);
      copied += rows.length;
      cursor = work[work.length - 1]!.seq;
    }
    // Into the indexes before the switch: searches find the rows indexed from the first moment.
    await meta.noteLanceVersion(name, await target.optimize(0));
    await meta.unwritePending();
    await meta.switchTable({ table: name, retire: legacy.name });
    log(`rebuilt the vector table: ${copied} rows copied into ${name}; ${legacy.name} is retired`);
    return name;
  } finally {
    target.close();
  }
}
