import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import type { StoreCore } from "./core.js";
import { reindexState } from "./reindex.js";
import { SETTINGS } from "./settings-keys.js";
import type { RunReport, StatusReport } from "./types.js";

/** What the store holds and how its background work is going: counts, model, vector table, last runs. */
export async function statusReport(core: StoreCore, chunkIds?: readonly string[]): Promise<StatusReport> {
  core.assertOpen();
  const meta = core.meta;
  const counts = await meta.counts();
  const now = Date.now();
  const bound = core.info ?? (await meta.getSetting<EmbedderInfo>(SETTINGS.model)) ?? null;
  const table = bound ? await core.vectors() : null;
  let lance: StatusReport["lance"] = null;
  if (table) {
    await core.catchUp(table);
    const stats = await table.stats();
    lance = { ...stats, index_coverage: stats.index && stats.rows > 0 ? stats.index.indexed_rows / stats.rows : null };
  }
  const reindex = await reindexState(meta);
  const report: StatusReport = {
    counts: { pending: counts.pending, committed: counts.committed, tombstone: counts.tombstone },
    chunks: counts.chunks,
    rewrites_in_flight: counts.rewrites,
    superseded_awaiting_gc: counts.superseded,
    oldest_pending_age_ms: counts.oldestPendingAt === null ? null : now - counts.oldestPendingAt,
    tombstones_awaiting_gc: counts.tombstone,
    oldest_tombstone_age_ms: counts.oldestTombstoneAt === null ? null : now - counts.oldestTombstoneAt,
    model: {
      provider: bound?.provider ?? core.options.embedder.provider,
      name: bound?.model ?? core.options.embedder.model,
      dimension: bound?.dimension ?? null,
      distance: bound?.distance ?? null,
      bound: bound !== null,
      load: core.modelLoad(),
    },
    lance,
    last_recovery: (await meta.getSetting<RunReport>(SETTINGS.lastRecovery)) ?? null,
    last_gc: (await meta.getSetting<RunReport>(SETTINGS.lastGc)) ?? null,
    last_optimize: (await meta.getSetting<RunReport>(SETTINGS.lastOptimize)) ?? null,
    maintenance_running: core.watchdog.report(),
    reindex: reindex
      ? { target: modelKey(reindex.target), table: reindex.table, done: await meta.chunksUpTo(reindex.cursor), total: counts.chunks, started_at: reindex.started_at }
      : null,
    data_dir: core.paths.root,
    vectors: { uri: core.storage.location.uri, ...core.storage.conditionalPut },
  };
  if (chunkIds) {
    const records = new Map((await meta.records(chunkIds)).map((r) => [r.chunk_id, r]));
    report.chunk_states = chunkIds.map((id) => {
      const r = records.get(id);
      return {
        chunk_id: id,
        status: r?.status ?? "missing",
        generation: r?.generation ?? null,
        vector_committed: r?.vector_committed === 1,
        committed_generation: r?.committed_generation ?? null,
      };
    });
  }
  return report;
}
