import type * as lancedb from "./lance.js";
import { modelKey, type EmbedderInfo } from "../embed/embedder.js";
import type { Reranker } from "../embed/reranker.js";
import { StoreError, errorMessage } from "./errors.js";
import { storageError } from "./fs-errors.js";
import { DEFAULT_KEYWORD_WEIGHT } from "./fusion.js";
import type { MetadataStore } from "./metadata-store.js";
import { dataPaths, type DataPaths } from "./paths.js";
import { DEFAULT_TABLE, SETTINGS } from "./settings-keys.js";
import type { StoreOptions } from "./types.js";
import { rebuildLegacyTable } from "./lance-upgrade.js";
import { ModelLoad, type ModelLoadReport } from "./model-load.js";
import { DEFAULT_ANN_EF, VectorTable, type CommitGuard } from "./vector-table.js";
import { Watchdog } from "./watchdog.js";
import type { Backend } from "./backend-contract.js";
import type { CommitLock } from "./commit-lock.js";
import { closedConnectionsCacheBytes, RENEWAL_FLOOR_BYTES, type LanceCacheReport } from "./lance-connection.js";
import type { VectorStorage } from "./vector-storage.js";

export const DEFAULTS = {
  gcIntervalMs: 30_000,
  recoveryIntervalMs: 30_000,
  reconcileIntervalMs: 10 * 60_000,
  // A reconcile (verify) of bench:scale's 1M store raised RSS by 535-545 MB in 16-17 s listing everything at once; in
  // slices of 10,000 chunks by 63-66 MB in 4.5-7.1 s (2,000: 59 MB; 50,000: 169-174 MB; 200,000: 373 MB).
  reconcileSliceChunks: 10_000,
  embedTimeoutMs: 120_000,
  optimizeAfterCommits: 50,
  optimizeWhenQuietMs: 10_000,
  keepVersionsMs: 60_000,
  cacheRenewalFloorBytes: RENEWAL_FLOOR_BYTES,
  annMinRows: 50_000,
  // A bulk load pauses for seconds between batches (bench:scale: a retraining started in such a pause at 790k of 1M
  // rows and ran beside the rest of the load); a minute without a write means the load is over.
  annRetrainQuietMs: 60_000,
  annEf: DEFAULT_ANN_EF,
  maxRowsPerCommit: 8192,
  keywordWeight: DEFAULT_KEYWORD_WEIGHT,
  // Half of the MCP SDK client's default 60 s request timeout: the request hears why before its client gives up.
  modelWaitMs: 30_000,
  // An optimize at a million rows took 40 s here; ten minutes is surely stuck.
  optimizeLimitMs: 10 * 60_000,
  // Index builds at a million rows took 12 s (keyword) and about 8 minutes (vector) on 2 cores.
  indexBuildLimitMs: 30 * 60_000,
  // The keyword index refresh of a write to a small table takes milliseconds.
  writeFoldLimitMs: 30_000,
};

export type ResolvedOptions = typeof DEFAULTS & StoreOptions;

/**
 * What every job of the store shares: the open handles (SQLite, the Lance
 * connection and table, the cross-process writer lock), the model binding,
 * the logger and the bookkeeping of background work. The job modules
 * (write, search, maintenance, verify, status) import this; it imports none
 * of them, so they never call back into each other in a circle. A job that
 * needs another to act (a write that leaves garbage wants GC soon) says so
 * through the hooks here.
 */
export class StoreCore {
  readonly options: ResolvedOptions;
  readonly paths: DataPaths;
  /** The embedder's binding once known: read from the store, or from the first load. */
  info: EmbedderInfo | null = null;
  closed = false;
  /** Aborted by close(): background embedding stops and its records stay pending for the next open. */
  readonly closing = new AbortController();
  commitsSinceOptimize = 0;
  lastCommitAt = 0;
  /** Set by the maintenance scheduler; a write that left garbage calls it. */
  onGcWanted: () => void = () => undefined;
  /** Index builds and optimizes run under it: one that hangs is reported, not waited for. */
  readonly watchdog = new Watchdog((message) => this.log(message));
  /** Searches under way, by start time: GC of superseded rows waits for those that began before it. */
  private readonly reads = new Set<{ started: number; done: Promise<void> }>();
  /** The embedding model's load, which belongs to the store, not to the request that needed it first. */
  private readonly model: ModelLoad<EmbedderInfo>;
  /** The reranker's load, when the store has one. */
  readonly reranker: ModelLoad<Reranker> | null;
  private tablePromise: Promise<VectorTable> | null = null;
  private readonly background = new Set<Promise<unknown>>();

  readonly meta: MetadataStore;
  readonly connection: lancedb.Connection;
  /** Where the Lance tables are; see Backend.storage. */
  readonly storage: VectorStorage;
  /** Null when the store is open read-only: nothing may be written, so no writer takes part in the lock. */
  private readonly lock: CommitLock | null;
  /** Why this process may only read the store; null when it may write. */
  readonly readOnlyBecause: string | null;
  /** See Backend.maintenanceLeader. */
  readonly maintenanceLeader: (() => Promise<boolean>) | null;

  constructor(
    options: StoreOptions,
    private readonly backend: Backend,
  ) {
    this.meta = backend.meta;
    this.connection = backend.connection;
    this.storage = backend.storage;
    this.lock = backend.lock;
    this.readOnlyBecause = backend.readOnlyBecause;
    this.options = { ...DEFAULTS, ...options };
    this.paths = dataPaths(options.dataDir);
    this.maintenanceLeader = backend.maintenanceLeader;
    const embedder = this.options.embedder;
    const loading = { closing: this.closing.signal, waitMs: this.options.modelWaitMs, log: (message: string) => this.log(message, "info") };
    this.model = new ModelLoad({
      ...loading,
      load: (signal) => this.loadAndBind(signal),
      kind: "embedding model",
      name: () => modelKey(embedder),
      progress: () => embedder.loadProgress?.() ?? null,
    });
    const reranker = this.options.reranker;
    this.reranker = reranker
      ? new ModelLoad({ ...loading, load: async (signal) => (await reranker.load(signal), reranker), kind: "reranker", name: () => reranker.name, progress: () => reranker.loadProgress?.() ?? null })
      : null;
  }

  get writable(): boolean {
    return this.lock !== null;
  }

  /** The writer lock; its absence means the store is open read-only, and the write is refused before anything happens. */
  assertWritable(): CommitLock {
    if (this.lock) return this.lock;
    throw new StoreError(
      "read_only",
      `The data directory ${this.paths.root} is open read-only (${this.readOnlyBecause}), so writes, deletes and maintenance are refused; nothing was changed. ` +
        "Searches and status work. To write, run as a user who may write the directory and its files, or use another --data-dir.",
    );
  }

  /** A storage fault (disk full, permissions) as an error that says what happened to the data and what to do; other errors unchanged. */
  storageFailure(error: unknown, action: string, outcome: string): unknown {
    return storageError(error, this.paths.root, action, outcome) ?? error;
  }

  /**
   * The embedder's description, loading it on first use and binding a new
   * store to it. The load belongs to the store (see ModelLoad): a request
   * waits for it with its own signal, up to modelWaitMs; background work
   * (`patient`) waits as long as it takes.
   */
  modelInfo(signal?: AbortSignal, patient = false): Promise<EmbedderInfo> {
    return this.model.get({ ...(signal ? { signal } : {}), patient });
  }

  /** How the model's load is going, for status. */
  modelLoad(): ModelLoadReport {
    return this.model.report();
  }

  private async loadAndBind(signal: AbortSignal): Promise<EmbedderInfo> {
    let loaded: EmbedderInfo;
    try {
      loaded = await this.options.embedder.load(signal);
    } catch (error) {
      throw new StoreError("embedder_failed", `The embedder ${modelKey(this.options.embedder)} could not be loaded: ${errorMessage(error)}.`, { cause: error });
    }
    const bound = this.writable ? await this.meta.claimSetting(SETTINGS.model, loaded) : ((await this.meta.getSetting<EmbedderInfo>(SETTINGS.model)) ?? loaded);
    if (modelKey(bound) !== modelKey(loaded) || bound.dimension !== loaded.dimension) {
      throw new StoreError(
        "model_mismatch",
        `The store is bound to ${modelKey(bound)} (${bound.dimension}-d) but the embedder now reports ${modelKey(loaded)} (${loaded.dimension}-d). Re-embed with \`retrieval-mcp reindex\`.`,
      );
    }
    this.info = bound;
    return bound;
  }

  /**
   * The active vector table, opened (or created) under the writer lock on
   * first use; a table written by 0.1.0 is rebuilt first, once, by whichever
   * process gets there first.
   */
  vectors(): Promise<VectorTable> {
    this.tablePromise ??= (async () => {
      // The binding knows the dimension: opening the table never needs the model loaded.
      const info = this.info ?? (await this.modelInfo(undefined, true));
      const open = (name: string, guard?: CommitGuard) => VectorTable.open(this.connection, this.storage.location, name, info.dimension, guard);
      const name = this.lock ? await this.meta.claimSetting(SETTINGS.table, DEFAULT_TABLE) : await this.activeTable();
      // Only creating or rebuilding the table needs the writer lock, which a full disk or a read-only store cannot take.
      if (await VectorTable.exists(this.connection, name)) {
        // An index it lacks is created beside writes: outside the lock only where the object store orders commits itself.
        const table = await open(name, (work) => this.besideWrites(work));
        if (!table.legacy) return table;
        table.close();
      }
      return this.assertWritable().run(async () => {
        for (;;) {
          const table = await open(await this.activeTable());
          if (!table.legacy) return table;
          try {
            await rebuildLegacyTable(this.connection, this.meta, table, this.storage.location, (m) => this.log(m));
          } finally {
            table.close();
          }
        }
      });
    })();
    this.tablePromise.catch(() => (this.tablePromise = null));
    return this.tablePromise;
  }

  private async activeTable(): Promise<string> {
    return (await this.meta.getSetting<string>(SETTINGS.table)) ?? DEFAULT_TABLE;
  }

  /** The table if the store has ever been bound to a model; reads of an unbound store need none. */
  async vectorsIfBound(): Promise<VectorTable | null> {
    if (!this.info && !(await this.meta.getSetting(SETTINGS.model))) return null;
    // Read-only, a missing table cannot be created: there are no vectors to search.
    if (!this.lock && !this.tablePromise && !(await VectorTable.exists(this.connection, await this.activeTable()))) return null;
    return this.vectors();
  }

  /** The table if it was ever opened by this process: close() must not open one. */
  openedTable(): Promise<VectorTable | null> {
    return this.tablePromise?.catch(() => null) ?? Promise.resolve(null);
  }

  /**
   * A reindex in another process may have re-bound the store to a new model
   * and table while this one ran; its vectors would then be of the wrong
   * model. Checked before every write and vector search (one indexed read).
   */
  async assertStillBound(table?: VectorTable): Promise<void> {
    const bound = await this.meta.getSetting<EmbedderInfo>(SETTINGS.model);
    const active = await this.meta.getSetting<string>(SETTINGS.table);
    const mine = this.info ?? this.options.embedder;
    if ((bound && modelKey(bound) !== modelKey(mine)) || (table && active !== undefined && active !== table.name)) {
      throw new StoreError(
        "model_mismatch",
        `This store was re-embedded with ${bound ? modelKey(bound) : "another model"} (by \`retrieval-mcp reindex\`) while this process was running with ${modelKey(mine)}. ` +
          `Restart it with --embedder ${bound ? modelKey(bound) : "auto"}; nothing was written.`,
      );
    }
  }

  /**
   * Runs a Lance commit that may go beside writes, outside the commit lock
   * (a compaction, an index build): Lance lets it, because of two commits
   * of one table version the object store keeps only the first, and the
   * second is retried on top of it. That is the store's conditional PUT;
   * where the start-up probe did not find one, the second commit silently
   * replaces the first, so there these commits take the lock like every
   * other (on s3rver, 30 rounds of two writes, two searches and a
   * compaction at once lost rows or broke a manifest in 3 runs of 3).
   */
  besideWrites<T>(work: () => Promise<T>): Promise<T> {
    const { location, conditionalPut } = this.storage;
    return location.kind === "s3" && conditionalPut.conditional_put !== true ? this.assertWritable().run(work) : work();
  }

  /** Another process may have committed since we last looked; its writes are invisible until we move on. */
  async catchUp(table: VectorTable): Promise<void> {
    if ((await this.meta.lanceVersion(table.name)) > table.version) await table.refresh();
  }

  /** A Lance commit happened: the maintenance scheduler compacts after many, or once they stop. */
  noteCommit(): void {
    this.commitsSinceOptimize++;
    this.lastCommitAt = Date.now();
  }

  /** Runs a read, registered so that `readsBefore` can wait for it. */
  async reading<T>(read: () => Promise<T>): Promise<T> {
    let finish!: () => void;
    const entry = { started: Date.now(), done: new Promise<void>((resolve) => (finish = resolve)) };
    this.reads.add(entry);
    try {
      return await read();
    } finally {
      this.reads.delete(entry);
      finish();
    }
  }

  /** Resolves once every read that started before `time` has finished. */
  async readsBefore(time: number): Promise<void> {
    await Promise.all([...this.reads].filter((r) => r.started <= time).map((r) => r.done));
  }

  /** What Lance's caches hold now (the vector table's connection's, see TableHandle, and the one that opens and drops tables), next to the table's live indexes. */
  async lanceCacheUsage(): Promise<LanceCacheReport> {
    const own = this.backend.lanceCacheUsage();
    const closed_connections_bytes = closedConnectionsCacheBytes();
    const table = await this.openedTable();
    if (!table) return { ...own, live_index_bytes: null, closed_connections_bytes };
    const usage = table.cacheUsage();
    return {
      bytes: own.bytes + usage.bytes,
      entries: own.entries + usage.entries,
      limit_bytes: own.limit_bytes + usage.limit_bytes,
      live_index_bytes: await table.liveIndexBytes(),
      closed_connections_bytes,
    };
  }

  /** Closes the backend; see Backend.close. */
  release(options: { leaveLance: boolean }): Promise<void> {
    return this.backend.close(options);
  }

  /** Background work close() waits for; its failure is logged, never thrown at a caller. */
  track(work: Promise<unknown>): void {
    const tracked = work.catch((error) => this.log(errorMessage(error))).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  async drainBackground(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  log(message: string, level: "info" | "warning" = "warning"): void {
    if (!this.closing.signal.aborted) this.options.log?.(message, level);
  }

  assertOpen(): void {
    if (this.closed) throw new StoreError("closed", "The store is closed.");
  }
}
