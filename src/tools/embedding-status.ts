import { z } from "zod";
import type { MemoryReport } from "../store/memory.js";
import type { StatusReport } from "../store/store.js";
import { INGEST_SOURCES, type IngestActivityReport } from "../sync/activity.js";
import { mib } from "../text/bytes.js";
import { count } from "../text/plural.js";
import { visibleIds } from "./allowed.js";
import { runTool, type RegisterTool } from "./context.js";
import { fields, ingestCountFields } from "./fields.js";

const statusInput = z.strictObject({
  chunk_ids: fields.chunkIds("Also report the embedding state of these chunks").optional(),
});

const indexCoverage = z.object({ name: z.string(), type: z.string(), indexed_rows: z.number().int(), unindexed_rows: z.number().int() });

const runReport = z
  .object({ at: z.string(), took_ms: z.number(), ok: z.boolean(), error: z.string().optional() })
  .catchall(z.unknown())
  .nullable();

const statusOutput = z.object({
  counts: z.object({ pending: z.number().int(), committed: z.number().int(), tombstone: z.number().int() }).describe("Embedding records by state."),
  total_chunks: z.number().int().describe("Live chunks, whatever their embedding state."),
  rewrites_in_flight: z
    .number()
    .int()
    .describe("Chunks being rewritten: the new version is pending while the committed one keeps being served by search."),
  superseded_awaiting_gc: z.number().int().describe("Chunks whose replaced vectors cleanup has not removed yet (never served)."),
  oldest_pending_age_ms: z.number().nullable().describe("Age of the oldest chunk still waiting to be embedded; null when none is pending."),
  tombstones_awaiting_gc: z.number().int().describe("Deleted chunks whose vectors cleanup has not yet removed (already invisible to search)."),
  oldest_tombstone_age_ms: z.number().nullable(),
  model: z.object({
    provider: z.string(),
    name: z.string(),
    dimension: z.number().int().nullable().describe("null until the store has embedded something."),
    distance: z.string().nullable(),
    bound: z.boolean().describe("Whether the store is bound to this model (it refuses any other)."),
    load: z
      .object({
        state: z.enum(["not_started", "loading", "ready", "failed"]),
        started_at: z.string().nullable(),
        elapsed_ms: z.number().nullable(),
        detail: z.string().nullable().describe('While loading: what it is doing, e.g. "downloading onnx/model.onnx: 50% of 90.4 MB".'),
        error: z.string().nullable().describe("Why the last attempt failed; the next call that needs the model tries again."),
      })
      .describe("The model's load in this server: it starts with the first call that needs the model and goes on even if that call gives up."),
  }),
  lance: z
    .object({
      table: z.string(),
      version: z.number().int(),
      rows: z.number().int().describe("Vector rows, including ones awaiting cleanup."),
      fragments: z.number().int(),
      small_fragments: z.number().int().describe("Fragments small enough for the next optimize to merge."),
      index: indexCoverage.nullable().describe("The ANN index; null while vector search is exact (below 50,000 rows)."),
      keyword_index: indexCoverage.nullable().describe("The full-text (BM25) index; rows it does not cover yet are searched without it until maintenance folds them in."),
      index_coverage: z.number().nullable().describe("Share of rows covered by the ANN index; null without one (search is exact)."),
    })
    .nullable()
    .describe("The vector table; null before anything was embedded."),
  last_recovery: runReport,
  last_gc: runReport,
  last_optimize: runReport,
  maintenance_running: z
    .array(z.object({ kind: z.string(), started_at: z.string(), running_ms: z.number(), stuck: z.boolean() }))
    .describe("Index builds and optimizes running now; stuck: past its time limit, no longer waited for (see the log)."),
  reindex: z
    .object({ target: z.string(), table: z.string(), done: z.number().int(), total: z.number().int(), started_at: z.string() })
    .nullable()
    .describe("A re-embedding with another model (retrieval-mcp reindex) in progress: chunks copied so far of the total; null when none runs."),
  data_dir: z.string(),
  database: z.string().nullable().describe("The PostgreSQL database holding chunks and commit state (password hidden); null when they are in SQLite in data_dir."),
  vectors: z
    .object({
      uri: z.string().describe("Where the vector tables are: a directory, or an s3:// prefix."),
      conditional_put: z
        .boolean()
        .nullable()
        .describe(
          "On object storage: whether the store refused a second PUT with If-None-Match: * at start-up (true), as Lance's commits need against writers outside this store's lock, or overwrote (false); null when not probed or inconclusive.",
        ),
      detail: z.string().describe("The probe's outcome in words."),
    })
    .describe("The vectors' location and the start-up probe of conditional writes there."),
  ingest: z
    .object({
      watching: z.array(z.string()).describe("Folders this server keeps indexed (serve --watch)."),
      queued: z.number().int().describe("Changed paths seen and waiting for their burst of changes to settle."),
      running: z
        .array(z.object({ by: z.enum(INGEST_SOURCES), started_at: z.string(), done: z.number().int(), total: z.number().int() }))
        .describe("File ingestion in progress: files done of the files found."),
      runs: z.number().int().describe("Ingestion runs finished since the server started."),
      last: z
        .object({
          by: z.enum(INGEST_SOURCES),
          finished_at: z.string(),
          took_ms: z.number(),
          ...ingestCountFields,
          error: z.string().optional().describe("Why the run stopped (an error, or a cancellation saying how many files were done)."),
        })
        .nullable(),
    })
    .nullable()
    .describe("File ingestion by this server (folders watched with --watch, ingest_files calls); null when it does none."),
  memory: z
    .object({
      rss_bytes: z.number().int().describe("The server process's resident memory."),
      js_heap_used_bytes: z.number().int(),
      js_heap_total_bytes: z.number().int(),
      external_bytes: z.number().int().describe("Native memory tied to JavaScript objects (Buffers among them)."),
      array_buffers_bytes: z.number().int(),
      lance_cache: z
        .object({
          bytes: z.number().int(),
          entries: z.number().int(),
          limit_bytes: z.number().int(),
          live_index_bytes: z
            .number()
            .int()
            .nullable()
            .describe("What the vector table's current indexes take on disk. Lance counts about twice this in its caches once searches have read them all; past twice what they take there, plus 64 MiB, an optimize renews the caches."),
          closed_connections_bytes: z
            .number()
            .int()
            .describe("What the caches of closed connections still hold until the garbage collector frees them. The store frees them right after each cache renewal, so this stays near 0 (a few KiB from opening tables) but for moments."),
        })
        .describe("Lance's index and metadata caches of this store, together, and their combined limit."),
    })
    .describe("The server process's memory; what RSS holds beyond the JavaScript heap and Lance's caches is other native memory."),
  chunks: z
    .array(
      z.object({
        chunk_id: z.string(),
        status: z
          .enum(["pending", "committed", "tombstone", "missing"])
          .describe("State of the chunk's newest write. pending: being embedded; committed: searchable; missing: no such chunk (never indexed, or deleted and cleaned up)."),
        generation: z.number().int().nullable().describe("The newest write's generation."),
        vector_committed: z.boolean(),
        committed_generation: z
          .number()
          .int()
          .nullable()
          .describe("The version search serves (while a rewrite is pending, the previous one); null before the first commit."),
      }),
    )
    .optional()
    .describe("Present when chunk_ids was given, in the same order."),
});

type StatusOutput = z.infer<typeof statusOutput>;

function toOutput(report: StatusReport, memory: MemoryReport, ingest: IngestActivityReport | null): StatusOutput {
  return {
    counts: report.counts,
    total_chunks: report.chunks,
    rewrites_in_flight: report.rewrites_in_flight,
    superseded_awaiting_gc: report.superseded_awaiting_gc,
    oldest_pending_age_ms: report.oldest_pending_age_ms,
    tombstones_awaiting_gc: report.tombstones_awaiting_gc,
    oldest_tombstone_age_ms: report.oldest_tombstone_age_ms,
    model: report.model,
    lance: report.lance,
    last_recovery: report.last_recovery,
    last_gc: report.last_gc,
    last_optimize: report.last_optimize,
    maintenance_running: report.maintenance_running,
    reindex: report.reindex,
    data_dir: report.data_dir,
    database: report.database,
    vectors: report.vectors,
    ingest,
    memory,
    ...(report.chunk_states ? { chunks: report.chunk_states } : {}),
  };
}

function render(s: StatusOutput): string {
  const lines = [
    `${count(s.total_chunks, "chunk")}: ${s.counts.committed} committed, ${s.counts.pending} pending${s.rewrites_in_flight > 0 ? ` (${s.rewrites_in_flight} of them rewrites, served in their committed version meanwhile)` : ""}, ${s.counts.tombstone} deleted awaiting cleanup.`,
    `Model ${s.model.provider}:${s.model.name}${s.model.dimension !== null ? ` (${s.model.dimension}-d, ${s.model.distance})` : ""}.`,
  ];
  const load = s.model.load;
  if (load.state === "loading") lines.push(`The model is loading (${Math.round((load.elapsed_ms ?? 0) / 1000)} s so far${load.detail ? `: ${load.detail}` : ""}).`);
  if (load.state === "failed") lines.push(`Loading the model failed: ${load.error ?? "unknown error"}. The next call that needs it tries again.`);
  if (s.oldest_pending_age_ms !== null) lines.push(`Oldest pending: ${Math.round(s.oldest_pending_age_ms / 1000)} s.`);
  if (s.vectors.uri.startsWith("s3://")) lines.push(`Vectors at ${s.vectors.uri}: ${s.vectors.detail}.`);
  if (s.lance) lines.push(`Lance: ${s.lance.rows} rows, version ${s.lance.version}${s.lance.index_coverage !== null ? `, ANN index covers ${Math.round(s.lance.index_coverage * 100)}%` : ", exact search"}.`);
  for (const w of s.maintenance_running) lines.push(`${w.kind} running for ${Math.round(w.running_ms / 1000)} s${w.stuck ? " (past its time limit: it may be stuck; see the server log)" : ""}.`);
  if (s.reindex) lines.push(`Re-embedding with ${s.reindex.target}: ${s.reindex.done} of ${s.reindex.total} chunks copied (started ${s.reindex.started_at}).`);
  if (s.ingest) {
    const { watching, queued, running, last } = s.ingest;
    if (watching.length > 0) lines.push(`Watching ${watching.join(", ")}${queued > 0 ? `; ${queued} changes waiting` : ""}.`);
    for (const r of running) lines.push(`Ingesting (${r.by}): ${r.done} of ${r.total} files.`);
    if (last) lines.push(`Last ingest (${last.by}, ${last.finished_at}): ${last.error ? `failed: ${last.error}` : `${last.indexed} indexed, ${last.unchanged} unchanged, ${last.failed} failed, ${last.pruned} pruned`}.`);
  }
  const { memory } = s;
  lines.push(
    `Memory: ${mib(memory.rss_bytes)} resident; JavaScript heap ${mib(memory.js_heap_used_bytes)} of ${mib(memory.js_heap_total_bytes)}; Lance caches ${mib(memory.lance_cache.bytes)} (${count(memory.lance_cache.entries, "entry", "entries")}) of ${mib(memory.lance_cache.limit_bytes)}${memory.lance_cache.live_index_bytes !== null ? `; live indexes ${mib(memory.lance_cache.live_index_bytes)}` : ""}${memory.lance_cache.closed_connections_bytes >= 2 ** 20 ? `; ${mib(memory.lance_cache.closed_connections_bytes)} more in closed connections' caches, not yet freed` : ""}.`,
  );
  for (const c of s.chunks ?? []) {
    const serving = c.status === "pending" && c.committed_generation !== null ? `, serving generation ${c.committed_generation}` : "";
    lines.push(`${c.chunk_id}: ${c.status}${c.generation !== null ? ` (generation ${c.generation}${serving})` : ""}`);
  }
  return lines.join("\n");
}

export const registerEmbeddingStatus: RegisterTool = (server, context) => {
  server.registerTool(
    "embedding_status",
    {
      title: "Embedding progress and store health",
      description:
        "Reports how many chunks are committed (searchable), pending (stored, being embedded) or deleted awaiting cleanup, the embedding model, " +
        "the vector table and the last recovery and cleanup runs. Give chunk_ids to follow particular chunks, e.g. after index_chunk with wait:false. " +
        "A pending count that does not shrink means embedding is failing; last_recovery.error says why.",
      inputSchema: statusInput,
      outputSchema: statusOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ chunk_ids }, _extra) =>
      runTool(
        context,
        async (store) => {
          const report = await store.status(chunk_ids);
          // A collection-limited session learns nothing about chunks outside its collections.
          const visible = await visibleIds(context.access, store, chunk_ids ?? []);
          report.chunk_states = report.chunk_states?.map((c) =>
            visible.has(c.chunk_id) ? c : { chunk_id: c.chunk_id, status: "missing", generation: null, vector_committed: false, committed_generation: null },
          );
          return toOutput(report, await store.memory(), context.activity?.report() ?? null);
        },
        render,
      ),
  );
};
