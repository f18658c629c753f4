import { appendRows } from "./append.js";
import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import type { Backend } from "./backend-contract.js";
import { sha256 } from "./chunk-input.js";
import { StoreError } from "./errors.js";
import { connectLance } from "./lance-connection.js";
import { MetadataDb } from "./metadata.js";
import type { ChunkWrite, ReindexWork } from "./metadata-store.js";
import { dataPaths } from "./paths.js";
import { DEFAULT_TABLE, SETTINGS } from "./settings-keys.js";
import { VectorTable } from "./vector-table.js";
import { versionRow } from "./version-row.js";

/** A copy in progress, kept in the target, so a run cut short resumes where it stopped and nothing else mistakes the target for empty. */
export interface CopyState {
  /** The source data directory, as given. */
  source: string;
  /** Every committed source chunk with `seq` up to here is committed in the target. */
  cursor: number;
  started_at: string;
}

export interface CopyReport {
  copied: number;
  collections: number;
  model: string;
  /** The run continued a copy a crash or an interrupt had cut short. */
  resumed: boolean;
}

export interface CopyOptions {
  /** The embedded store to copy: its metadata.db and lance/ folder. */
  sourceDir: string;
  /** Where to: a backend opened for writing (PostgreSQL and object storage, or any other). */
  target: Backend;
  /** How the target is named in messages (a redacted database URL and the vectors' location). */
  targetName: string;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Copies the committed chunks of an embedded store (SQLite and a local
 * Lance folder) into another backend, with their text, metadata,
 * collection, doc id and vectors: the vectors are read from the source's
 * Lance table, never re-embedded. Each batch goes through the target's own
 * write protocol (step 1 pending, one Lance append under the target's
 * commit lock, step 3 commit), so the target satisfies I1-I5 after every
 * batch and a crash mid-way leaves it consistent. The target's generation
 * counter numbers the copies, in the source's commit order.
 *
 * The source is held with an exclusive SQLite lock for the whole run: a
 * server that has it open makes the copy refuse to start, and none can open
 * it until the copy ends, so nothing is written to the source behind it.
 * The target must be empty, or hold an unfinished copy of the same source,
 * which the run then resumes.
 */
export async function copyStore(options: CopyOptions): Promise<CopyReport> {
  const { target, targetName } = options;
  const paths = dataPaths(options.sourceDir);
  const source = openSourceExclusively(paths.metadataDb, options.sourceDir);
  const { connection: sourceLance } = await connectLance({ kind: "directory", uri: paths.lanceDir });
  let from: VectorTable | null = null;
  let into: VectorTable | null = null;
  try {
    const model = await source.getSetting<EmbedderInfo>(SETTINGS.model);
    const counts = await source.counts();
    if (!model || counts.committed === 0) {
      throw new StoreError("not_found", `The store in ${options.sourceDir} holds no committed chunks, so there is nothing to copy. Check --data-dir.`);
    }
    if (await source.getSetting(SETTINGS.reindex)) {
      throw new StoreError(
        "invalid_input",
        `The store in ${options.sourceDir} is in the middle of a reindex. Finish it (\`retrieval-mcp reindex\` with the same --embedder) or cancel it (\`retrieval-mcp reindex --cancel\`), then copy it.`,
      );
    }
    if (counts.pending > 0) {
      throw new StoreError(
        "invalid_input",
        `The store in ${options.sourceDir} has ${counts.pending} writes that are not committed yet (a server stopped or crashed before finishing them). ` +
          `Run \`retrieval-mcp verify --repair --data-dir ${options.sourceDir}\` to finish them, then copy it; nothing was copied.`,
      );
    }
    const resumed = await claimTarget(target, options.sourceDir, model, targetName);
    const tableName = (await source.getSetting<string>(SETTINGS.table)) ?? DEFAULT_TABLE;
    from = await VectorTable.open(sourceLance, { kind: "directory", uri: paths.lanceDir }, tableName, model.dimension);
    const lock = target.lock!;
    const intoName = await target.meta.claimSetting(SETTINGS.table, DEFAULT_TABLE);
    into = await lock.run(() => VectorTable.open(target.connection, target.storage.location, intoName, model.dimension));
    const state = (await target.meta.getSetting<CopyState>(SETTINGS.copy))!;
    const batchSize = options.batchSize ?? 256;
    const binding = { model: modelKey(model), dimension: model.dimension };
    for (;;) {
      if (options.signal?.aborted) throw new StoreError("aborted", "The copy was interrupted. Run the same command again to resume it.");
      const work = await source.committedAfter(state.cursor, batchSize);
      if (work.length === 0) break;
      await copyBatch(work, { from, into, target, binding, sourceDir: options.sourceDir });
      state.cursor = work[work.length - 1]!.seq;
      await target.meta.setSetting(SETTINGS.copy, state);
      options.onProgress?.(await source.chunksUpTo(state.cursor), counts.committed);
    }
    // Into the indexes before anyone searches: a table built by many small inserts is otherwise searched mostly unindexed.
    await lock.run(async () => target.meta.noteLanceVersion(into!.name, await into!.optimize(0)));
    await target.meta.deleteSetting(SETTINGS.copy);
    return { copied: counts.committed, collections: (await source.collections(Number.MAX_SAFE_INTEGER)).length, model: modelKey(model), resumed };
  } finally {
    from?.close();
    into?.close();
    sourceLance.close();
    source.close();
  }
}

/**
 * The source's metadata, locked against every other connection. SQLite's
 * exclusive locking mode takes the lock on the first write and keeps it
 * until this connection closes; a process that has the store open (even
 * idle, in WAL mode) makes that write fail at once.
 */
function openSourceExclusively(path: string, dir: string): MetadataDb {
  let db: MetadataDb;
  try {
    db = new MetadataDb(path, { busyTimeoutMs: 0 });
  } catch (error) {
    throw new StoreError("not_found", `No store could be opened in ${dir}: ${(error as Error).message}. Check --data-dir.`, { cause: error });
  }
  try {
    db.db.pragma("locking_mode = EXCLUSIVE");
    db.db.exec("BEGIN EXCLUSIVE; COMMIT;");
    return db;
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
    throw new StoreError(
      "invalid_input",
      `The store in ${dir} is open in another process (a running server or command). Stop it first, so that no write is made to the source after the copy has passed it; nothing was copied.`,
    );
  }
}

/**
 * Binds an empty target to the source's model and marks it as a copy of
 * the source; a target holding an unfinished copy of the same source is
 * resumed. Anything else is refused: a copy must not merge two stores.
 */
async function claimTarget(target: Backend, sourceDir: string, model: EmbedderInfo, targetName: string): Promise<boolean> {
  const meta = target.meta;
  const fresh: CopyState = { source: sourceDir, cursor: 0, started_at: new Date().toISOString() };
  const existing = await meta.getSetting<CopyState>(SETTINGS.copy);
  if (existing) {
    if (existing.source !== sourceDir) {
      throw new StoreError(
        "invalid_input",
        `${targetName} holds an unfinished copy of ${existing.source} (started ${existing.started_at}), not of ${sourceDir}. Finish that copy by running it again with --data-dir ${existing.source}, or use an empty target.`,
      );
    }
    return true;
  }
  const counts = await meta.counts();
  const bound = await meta.getSetting<EmbedderInfo>(SETTINGS.model);
  if (counts.chunks + counts.tombstone > 0 || bound) {
    throw new StoreError(
      "invalid_input",
      `${targetName} is not empty (${counts.chunks} chunks${bound ? `, bound to ${modelKey(bound)}` : ""}): a copy goes into an empty store only, so that two stores are never merged. Nothing was copied; give an empty database and vectors location.`,
    );
  }
  await meta.setSetting(SETTINGS.copy, fresh);
  await meta.setSetting(SETTINGS.model, model);
  return false;
}

interface BatchContext {
  from: VectorTable;
  into: VectorTable;
  target: Backend;
  binding: { model: string; dimension: number };
  sourceDir: string;
}

/** One batch through the target's write protocol, with the source's vectors. */
async function copyBatch(work: readonly ReindexWork[], { from, into, target, binding, sourceDir }: BatchContext): Promise<void> {
  const vectors = await from.vectorsOf(work.map((w) => w.generation));
  const lost = work.filter((w) => !vectors.has(w.generation));
  if (lost.length > 0) {
    throw new StoreError(
      "lance_corrupt",
      `The source's vector table lacks the vectors of ${lost.length} committed chunks (e.g. ${lost[0]!.chunk_id}). Run \`retrieval-mcp verify --repair --data-dir ${sourceDir}\` on the source, then run this copy again to resume it.`,
    );
  }
  const writes: ChunkWrite[] = work.map((w) => ({ chunkId: w.chunk_id, collection: w.collection, docId: w.doc_id, text: w.text, metadata: w.metadata, contentHash: sha256(w.text) }));
  const { generations } = await target.meta.writePending(writes, binding, { durable: true });
  const rows = work.map((w, i) => versionRow({ ...w, generation: generations[i]! }, vectors.get(w.generation)!));
  await target.lock!.run(async () => {
    // Another process may have written the target's table since this one last looked: insert on its newest version.
    if ((await target.meta.lanceVersion(into.name)) > into.version) await into.refresh();
    await appendRows(target.meta, into, rows);
  });
  await target.meta.commit(rows.map((r) => ({ chunkId: r.chunkId, generation: r.generation })));
}
