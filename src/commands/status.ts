import type { Command } from "../cli/command.js";
import type { StatusReport } from "../store/store.js";
import { withExistingStore } from "./open-store.js";

function age(ms: number | null): string {
  if (ms === null) return "none";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

function lastRun(run: StatusReport["last_gc"]): string {
  if (!run) return "never";
  return `${run.at} (${run.ok ? "ok" : `failed: ${run.error ?? "unknown error"}`}, ${run.took_ms} ms)`;
}

export function renderStatus(s: StatusReport): string {
  const model = `${s.model.provider}:${s.model.name}${s.model.dimension ? `, ${s.model.dimension}-d, ${s.model.distance}` : ""}${s.model.bound ? "" : " (not bound yet: nothing indexed)"}`;
  const lance = s.lance
    ? `table ${s.lance.table} version ${s.lance.version}, ${s.lance.rows} rows in ${s.lance.fragments} fragments, ANN index ${s.lance.index ? `${s.lance.index.type} covering ${Math.round((s.lance.index_coverage ?? 0) * 100)}%` : "none (exact search)"}, keyword index ${s.lance.keyword_index ? `${s.lance.keyword_index.unindexed_rows} rows still to fold in` : "missing"}`
    : "no vector table yet";
  return [
    `data dir        ${s.data_dir}`,
    `vectors         ${s.vectors.uri}${s.vectors.uri.startsWith("s3://") ? ` (${s.vectors.detail})` : ""}`,
    `model           ${model}`,
    `chunks          ${s.chunks}`,
    `records         ${s.counts.committed} committed, ${s.counts.pending} pending, ${s.counts.tombstone} tombstone`,
    `oldest pending  ${age(s.oldest_pending_age_ms)}`,
    `awaiting GC     ${s.tombstones_awaiting_gc} (oldest ${age(s.oldest_tombstone_age_ms)})`,
    `lance           ${lance}`,
    `last recovery   ${lastRun(s.last_recovery)}`,
    `last gc         ${lastRun(s.last_gc)}`,
    `last optimize   ${lastRun(s.last_optimize)}`,
    ...s.maintenance_running.map((w) => `running         ${w.kind} for ${(w.running_ms / 1000).toFixed(0)} s${w.stuck ? " (past its time limit: may be stuck)" : ""}`),
    ...(s.reindex ? [`reindex         to ${s.reindex.target}: ${s.reindex.done}/${s.reindex.total} chunks copied, started ${s.reindex.started_at}`] : []),
  ].join("\n");
}

export const statusCommand: Command = {
  name: "status",
  summary: "Show what the store holds: chunk and record counts, the model, the vector table, maintenance runs.",
  args: "",
  minArgs: 0,
  maxArgs: 0,
  options: { json: { type: "boolean", description: "Print the full report as JSON." } },
  async run(context) {
    const report = await withExistingStore(context, (store) => store.status());
    process.stdout.write((context.values.json ? JSON.stringify(report, null, 2) : renderStatus(report)) + "\n");
    return 0;
  },
};
