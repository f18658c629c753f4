import { appendRows } from "./append.js";
import { modelKey, type Embedder, type EmbedderInfo } from "../embed/embedder.js";
import { embedChecked } from "./embedding.js";
import { StoreError, errorMessage } from "./errors.js";
import { openBackend } from "./backend.js";
import type { MetadataStore, ReindexWork } from "./metadata-store.js";
import { DEFAULT_TABLE, SETTINGS } from "./settings-keys.js";
import type { StoreLocation } from "./types.js";
import { VectorTable } from "./vector-table.js";
import { versionRow } from "./version-row.js";

/** The persisted state of a reindex, so a killed run resumes where it stopped. */
export interface ReindexState {
  target: EmbedderInfo;
  table: string;
  /** Every committed chunk with `seq` up to here is copied. */
  cursor: number;
  /** Records written at or after this generation may have changed since they were copied. */
  high_water: number;
  started_at: string;
}

export interface ReindexOptions extends StoreLocation {
  /** The new model. */
  embedder: Embedder;
  batchSize?: number;
  embedTimeoutMs?: number;
  signal?: AbortSignal;
  /** Awaited, so a caller may report progress asynchronously (an MCP notification, say). */
  onProgress?: (done: number, total: number) => void | Promise<void>;
  log?: (message: string) => void;
}

export interface ReindexReport {
  from: string | null;
  to: string;
  table: string;
  copied: number;
  /** Records written during the run that recovery re-embeds after the switch. */
  left_pending: number;
  resumed: boolean;
}

/** A catch-up pass that copied at most this many chunks is the last before the switch. */
const SWITCH_THRESHOLD = 256;
const MAX_CATCH_UP_PASSES = 5;

export async function reindexState(meta: MetadataStore): Promise<ReindexState | null> {
  return (await meta.getSetting<ReindexState>(SETTINGS.reindex)) ?? null;
}

/**
 * Re-embeds every chunk with a new model into a new Lance table while
 * servers keep searching (and writing) the old one, then switches the store
 * to the new model and table in one SQLite transaction. Progress is saved
 * after every batch: a killed run resumes where it stopped. Writes made
 * during the run are copied by catch-up passes or, at the switch, re-queued
 * as pending for recovery to embed with the new model.
 */
export async function reindexStore(options: ReindexOptions): Promise<ReindexReport> {
  const backend = await openBackend(options, { requireWritable: true, ...(options.log ? { log: options.log } : {}) });
  const { meta, connection } = backend;
  const lock = backend.lock!;
  let table: VectorTable | null = null;
  try {
    const info = await options.embedder.load(options.signal);
    const bound = (await meta.getSetting<EmbedderInfo>(SETTINGS.model)) ?? null;
    const oldTable = (await meta.getSetting<string>(SETTINGS.table)) ?? DEFAULT_TABLE;
    if (bound && modelKey(bound) === modelKey(info) && bound.dimension === info.dimension) {
      throw new StoreError("invalid_input", `The store already uses ${modelKey(info)}; there is nothing to re-embed.`);
    }
    const existing = await reindexState(meta);
    if (existing && modelKey(existing.target) !== modelKey(info)) {
      throw new StoreError(
        "invalid_input",
        `A reindex to ${modelKey(existing.target)} started at ${existing.started_at} is unfinished. Finish it with \`retrieval-mcp reindex --embedder ${modelKey(existing.target)}\`, or abandon it with \`retrieval-mcp reindex --cancel\`.`,
      );
    }
    const state: ReindexState = existing ?? {
      target: info,
      table: `chunks_${Date.now().toString(36)}`,
      cursor: 0,
      high_water: await meta.nextGeneration(),
      started_at: new Date().toISOString(),
    };
    await meta.setSetting(SETTINGS.reindex, state);
    table = await lock.run(() => VectorTable.open(connection, backend.storage.location, state.table, info.dimension));
    const total = (await meta.counts()).chunks;
    let copied = 0;

    const copy = async (work: readonly ReindexWork[]): Promise<void> => {
      const vectors = await embedChecked(options.embedder, info, work.map((w) => w.text), "document", {
        signal: options.signal,
        timeoutMs: options.embedTimeoutMs ?? 120_000,
      });
      await lock.run(async () => {
        await table!.refresh();
        await appendRows(meta, table!, work.map((w, i) => versionRow(w, vectors[i]!)));
      });
      copied += work.length;
    };

    const batchSize = options.batchSize ?? 256;
    for (;;) {
      const work = await meta.committedAfter(state.cursor, batchSize);
      if (work.length === 0) break;
      await copy(work);
      state.cursor = work[work.length - 1]!.seq;
      await meta.setSetting(SETTINGS.reindex, state);
      await options.onProgress?.(await meta.chunksUpTo(state.cursor), total);
    }
    // Chunks committed during the copy are copied again, until a pass finds
    // few: those are copied too, so that at the switch only writes of its
    // last moments lack a vector in the new table (they are re-embedded
    // right after it, and invisible until then).
    for (let pass = 0; pass < MAX_CATCH_UP_PASSES; pass++) {
      const next = await meta.nextGeneration();
      const changed = await meta.committedSince(state.high_water);
      if (changed.length === 0) break;
      options.log?.(`catching up with ${changed.length} chunks written during the reindex`);
      for (let i = 0; i < changed.length; i += batchSize) await copy(changed.slice(i, i + batchSize));
      state.high_water = next;
      await meta.setSetting(SETTINGS.reindex, state);
      if (changed.length <= SWITCH_THRESHOLD) break;
    }
    // Into the indexes before the switch, so the first searches on the new table are as fast as the last on the old.
    await meta.noteLanceVersion(table.name, await table.optimize(0));
    // Under the writer lock no server is between its Lance write and its step 3.
    const leftPending = await lock.run(async () =>
      meta.switchModel({ model: info, table: state.table, changedSince: state.high_water, retire: oldTable }),
    );
    await options.onProgress?.(total, total);
    return { from: bound ? modelKey(bound) : null, to: modelKey(info), table: state.table, copied, left_pending: leftPending, resumed: existing !== null };
  } catch (error) {
    if (options.signal?.aborted) {
      throw new StoreError("aborted", "Reindexing was interrupted. Progress is saved: run the same command again to resume.", { cause: error });
    }
    if (error instanceof StoreError) throw error;
    throw new StoreError("embedder_failed", `Reindexing stopped: ${errorMessage(error)}. Progress is saved; run the same command again to resume.`, { cause: error });
  } finally {
    table?.close();
    await backend.close();
  }
}

/** Abandons an unfinished reindex: the store keeps its model; the half-built table is dropped. */
export async function cancelReindex(location: StoreLocation): Promise<ReindexState | null> {
  const backend = await openBackend(location, { requireWritable: true });
  const { meta, connection } = backend;
  const lock = backend.lock!;
  try {
    const state = await reindexState(meta);
    if (!state) return null;
    await lock.run(async () => {
      if (await VectorTable.exists(connection, state.table)) await connection.dropTable(state.table);
      await meta.deleteSetting(SETTINGS.reindex);
    });
    return state;
  } finally {
    await backend.close();
  }
}
