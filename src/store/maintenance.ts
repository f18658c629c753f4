import type { StoreCore } from "./core.js";
import { mib } from "../text/bytes.js";
import { errorMessage } from "./errors.js";
import type { Garbage, RetiredTable } from "./metadata-store.js";
import { SETTINGS } from "./settings-keys.js";
import type { RunReport, VerifyReport } from "./types.js";
import { releaseFreedMemory, type MemoryRelease } from "./native-memory.js";
import { VectorTable } from "./vector-table.js";
import { reconcile } from "./verify.js";
import type { Writer } from "./write.js";

/** How soon after a delete GC runs: long enough to batch a burst of deletes into one Lance commit. */
const GC_DEBOUNCE_MS = 250;
/** Claims per GC step: 2,000 chunks, deleted from Lance in predicates of 250 terms (vector-table.ts). */
const GC_BATCH = 2000;
/**
 * Rows outside the keyword or the vector index that make optimize fold them
 * in, whatever the commit count: flat BM25 over 5,000 rows costs a few
 * milliseconds, over 100,000 it would dominate a search, and so would a
 * flat vector scan (100,000 rows left outside the ANN index: 256 ms p50
 * instead of 4 ms, bench:scale). And a backlog of a quarter of the indexed
 * rows, because LanceDB 0.31's flat BM25 miscounts document frequencies
 * (vector-table.ts, SMALL_TABLE_ROWS) the more, the larger the unindexed
 * share.
 */
const FOLD_BACKLOG_ROWS = 5_000;
const FOLD_BACKLOG_SHARE = 0.25;
/**
 * The ANN index is trained again once the table has grown to this many
 * times the rows it was trained on. Rows folded in later are served worse
 * than those it was trained on: at 1M chunks (bench:scale, hash:384),
 * recall@10 at ef 384 was 0.927 for an index last trained at 560k and
 * grown by optimize, 0.937 for one trained at 790k, 0.968 for one trained
 * on all 1M rows. Trainings at 1.25x growth cost five times the last one
 * in all, but only where writes pause (below).
 */
const ANN_RETRAIN_GROWTH = 1.25;
/**
 * A retraining waits until writes pause (annRetrainQuietMs), unless the
 * table has outgrown its index this many times. A training reads the whole
 * table and keeps both cores busy for minutes (233 s at 1M rows): run
 * beside a bulk load it is stale when it ends, and it takes the writes'
 * CPU (in bench:scale, concurrent single-chunk writes made 656 chunks/s
 * at 1M beside one, 1,441 at 300k without). Meanwhile optimize folds the
 * new rows into the index it has, so they are searched all the same.
 */
const ANN_RETRAIN_FORCED_GROWTH = 4;

/** What a timed recovery's report says in `reconcile` (instead of the problems found) when it left the reconcile for an ANN build. */
export const RECONCILE_WAITS = "left to the next round: an ANN index build is running";

/** What a timed reconcile logs: what it read, how long it took, what it found (repaired where it could). */
function reconcileLine({ checked, problems }: VerifyReport, ms: number): string {
  const found = problems.length === 0 ? "nothing to repair" : `found ${problems.map((p) => `${p.kind} ${p.count}`).join(", ")}`;
  return `reconciled ${checked.records} records with ${checked.lance_rows} Lance rows in ${(ms / 1000).toFixed(1)} s: ${found}`;
}

/** What an optimize report's `ann_training` says of the ANN index: a training began, or one is due and waits for writes to pause. */
export const ANN_TRAINING = { started: "started", waiting: "waits for writes to pause" } as const;

/** Maintenance jobs by the setting that records their last run, as error messages name them. */
const MAINTENANCE_ACTIONS: Record<string, string> = {
  [SETTINGS.lastGc]: "garbage collection",
  [SETTINGS.lastRecovery]: "recovery",
  [SETTINGS.lastOptimize]: "compaction",
};

/** For the log: how RSS moved when freed memory went back to the system. */
function describeRelease(release: MemoryRelease): string {
  const trimmed = release.trimmed ? "" : " (no malloc_trim in this C library)";
  return `RSS ${mib(release.rss_before_bytes)} -> ${mib(release.rss_after_bytes)} as freed memory went back to the system in ${Math.round(release.took_ms)} ms${trimmed}`;
}

/** The row count the table's ANN index was trained on. */
const annTrainedKey = (table: VectorTable): string => `${SETTINGS.annTrainedRows}:${table.name}`;

/**
 * The store's housekeeping: GC of deleted vectors, recovery of writes a
 * crashed writer left pending, compaction and the ANN index, on timers.
 * Jobs run one at a time and record their outcome in SQLite for `status`.
 */
export class Maintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private gcSoon: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private annBuild: Promise<void> | null = null;
  /** An optimize found the ANN index due for training but writes were under way: the next quiet moment runs one. */
  private retrainWaiting = false;
  /** A GC waiting for its turn, which later requests join (see gc()). */
  private gcWaiting: Promise<RunReport> | null = null;

  constructor(
    private readonly core: StoreCore,
    private readonly writer: Writer,
  ) {
    core.onGcWanted = () => this.scheduleGc();
  }

  /**
   * Starts the timers (unless the store was opened with `background: false`).
   * On a store replicas share, a round runs only on the replica leading
   * maintenance (Backend.maintenanceLeader); the others skip it.
   */
  start(): void {
    const { core } = this;
    if (core.options.background === false || !core.writable) return;
    // A timer's round is not queued again while its last one still waits or runs: jobs run one at a time,
    // and a slow one would otherwise leave a growing queue of the same round behind it.
    const every = (ms: number, run: () => Promise<unknown>) => {
      let queued = false;
      const timer = setInterval(() => {
        if (queued) return;
        queued = true;
        void this.onTurn(run)
          .catch(() => undefined)
          .finally(() => (queued = false));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    // On open: finish whatever a crashed writer left, then check Lance against SQLite.
    core.track(this.onTurn(() => this.recover({ reconcile: true }).then(() => this.gc())));
    every(core.options.gcIntervalMs, () => this.gc());
    every(core.options.recoveryIntervalMs, () => this.recover({ olderThanMs: core.options.recoveryIntervalMs }));
    every(core.options.reconcileIntervalMs, () => this.recover({ reconcile: true, olderThanMs: core.options.recoveryIntervalMs }, "defer"));
    every(Math.min(5_000, core.options.gcIntervalMs), async () => {
      // Not while an ANN build runs (see optimize()); the rows written meanwhile fold in after it.
      if (this.annBuild) return;
      // After many commits, once a burst of writes is over (or a retraining waits for that), or when many rows wait
      // outside an index: compacts, folds new rows into the indexes, and builds or retrains the ANN index.
      const quiet = (core.commitsSinceOptimize > 0 && this.writesQuiet(core.options.optimizeWhenQuietMs)) || (this.retrainWaiting && this.writesQuiet(core.options.annRetrainQuietMs));
      if (core.commitsSinceOptimize >= core.options.optimizeAfterCommits || quiet || (await this.tableWantsOptimize())) await this.optimize("background");
    });
  }

  /** Runs a timed round if this process maintains the store now (every process of an embedded store; the leader of a shared one). */
  private async onTurn(round: () => Promise<unknown>): Promise<unknown> {
    const leads = this.core.maintenanceLeader;
    if (leads !== null && !(await leads())) return null;
    return round();
  }

  /** Stops the timers; jobs already running finish (see `idle`). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    if (this.gcSoon) clearTimeout(this.gcSoon);
  }

  /** Resolves once the job running now (and those queued behind it) have finished. */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** Whether a native index build may still hold the table (close() must then leave its handles alone). */
  get building(): boolean {
    return this.annBuild !== null;
  }

  /** Waits for a background index build to finish. */
  async annIdle(): Promise<void> {
    await this.annBuild;
  }

  /**
   * Removes from Lance the vectors of deleted chunks and of superseded
   * versions, then forgets the claims (tombstones, `gc_upto` marks): in that
   * order, so a crash between leaves a claim that is simply retried.
   *
   * A run takes on the claims there were when it started; those raised
   * meanwhile wait for the next run. Under steady rewrites and deletes new
   * claims arrive during every batch, and a run that went on until none
   * was left never ended: in bench:soak a GC that started in the first
   * minute was still taking a batch every ~10 s eight minutes later, and no
   * compaction queued behind it ran (470 fragments, throughput down from 20
   * to 4 calls/s, RSS growing).
   *
   * A request made while another GC waits for its turn joins that one,
   * which counts the claims when it starts, so it takes the new ones on
   * too. Deletes ask for a GC every 250 ms under load; queued one by one
   * behind GCs of ~10 s, they held every compaction back as well.
   */
  gc(): Promise<RunReport> {
    if (this.gcWaiting) return this.gcWaiting;
    const run = this.exclusive(SETTINGS.lastGc, async () => {
      if (this.gcWaiting === run) this.gcWaiting = null;
      const { core } = this;
      const waiting = await core.meta.counts();
      const removed = await this.collect(waiting.tombstone, () => core.meta.tombstones(GC_BATCH), (done) => core.meta.dropTombstones(done));
      const superseded = await this.collect(
        waiting.superseded,
        async () => {
          const claims = await core.meta.superseded(GC_BATCH);
          // A search that began before these versions were superseded may still look up their rows: let it finish first.
          await core.readsBefore(Date.now());
          return claims;
        },
        (done) => core.meta.clearSuperseded(done),
      );
      return { removed, superseded, dropped_tables: await this.dropRetiredTables() };
    });
    this.gcWaiting = run;
    // A run that never started (the store closed first) must not hold later requests.
    void run.catch(() => undefined).finally(() => {
      if (this.gcWaiting === run) this.gcWaiting = null;
    });
    return run;
  }

  /** Deletes each claim's rows (a chunk's, up to a generation) from Lance, then drops the claims, batch by batch, until `budget` claims are done. */
  private async collect(budget: number, next: () => Promise<Garbage[]>, forget: (done: readonly Garbage[]) => Promise<number>): Promise<number> {
    const { core } = this;
    let count = 0;
    let taken = 0;
    let previous = "";
    while (taken < budget) {
      const claims = await next();
      // A claim raised again meanwhile survives forget(); the next pass handles it, not this loop.
      const signature = claims.map((c) => `${c.chunk_id}@${c.generation}`).join(",");
      if (claims.length === 0 || signature === previous) break;
      previous = signature;
      taken += claims.length;
      const table = await core.vectorsIfBound();
      if (table) {
        await core.assertWritable().run(async () => {
          await core.catchUp(table);
          const version = await table.deleteUpTo(claims.map((c) => ({ chunkId: c.chunk_id, generation: c.generation })));
          if (version !== null) await core.meta.noteLanceVersion(table.name, version);
        });
        core.noteCommit();
      }
      await core.options.faults?.betweenGcDeletes?.();
      count += await forget(claims);
    }
    return count;
  }

  /**
   * Re-drives pending records (all of them, or those older than
   * `olderThanMs`, whose writers presumably died) and, with `reconcile`,
   * compares Lance with SQLite and repairs what differs.
   */
  recover(options: { olderThanMs?: number; reconcile?: boolean } = {}, whileBuilding: "run" | "defer" = "run"): Promise<RunReport> {
    return this.exclusive(SETTINGS.lastRecovery, async () => {
      const { core } = this;
      let redriven = 0;
      const cutoff = Date.now() - (options.olderThanMs ?? 0);
      const batch = Math.max(64, core.options.embedder.maxBatchSize);
      let lastBatch: string | null = null;
      for (;;) {
        const work = await core.meta.pending(cutoff, batch);
        const signature = work.map((w) => `${w.chunk_id}@${w.generation}`).join(",");
        if (work.length === 0 || signature === lastBatch) break;
        lastBatch = signature;
        redriven += await this.writer.drive(work);
      }
      // An ANN build sets the store's memory peak (at 1M chunks, bench:scale's 1,887 MB), so a timed reconcile, which
      // there adds about 65 MB for 5-7 s, is left to the next round while one runs (none can start during this job:
      // only optimizes start builds, and they queue behind it). A safety net checked every 10 minutes loses nothing by
      // waiting for a build of minutes. (When a reconcile still read every key at once, one beside a build made a 2.6 GB peak.)
      if (options.reconcile && whileBuilding === "defer" && this.annBuild) return { redriven, reconcile: RECONCILE_WAITS };
      const started = Date.now();
      const reconciled = options.reconcile ? await reconcile(core, this.writer, true) : null;
      // The timed runs say what they did: a job of seconds over a large store, due every 10 minutes whatever else runs.
      if (reconciled && whileBuilding === "defer") core.log(reconcileLine(reconciled, Date.now() - started), "info");
      return { redriven, ...(reconciled ? { reconcile: reconciled.problems } : {}) };
    });
  }

  /**
   * Compacts Lance, folds new rows into every index, prunes old versions,
   * and builds the ANN index past its threshold (or trains it again once
   * the table has outgrown it). Not under the writer lock (except where the
   * object store does not enforce conditional PUTs, see besideWrites):
   * writes only ever insert rows, which Lance commits beside a compaction;
   * a GC delete that collides with one fails and is retried by the next GC. Under the
   * watchdog: an optimize that hangs is reported, not waited for.
   *
   * Waits for an ANN build in flight: a compaction committed during the
   * build makes the build's commit conflict, and it starts over (up to five
   * times); a version pruned during it fails it ("Not found: ...manifest").
   * At 1M rows on 2 cores a build takes minutes, and bench:scale lost
   * builds both ways.
   *
   * A background optimize retrains the ANN index only once writes pause,
   * or when the table has outgrown it (ANN_RETRAIN_FORCED_GROWTH); one
   * requested through the API retrains whenever it is due.
   */
  async optimize(trigger: "request" | "background" = "request"): Promise<RunReport> {
    await this.annBuild;
    return this.exclusive(SETTINGS.lastOptimize, async () => {
      const { core } = this;
      const table = await core.vectorsIfBound();
      if (!table) return { skipped: "no vectors yet" };
      // Queued behind the optimize that started it.
      if (this.annBuild) return { skipped: "the ANN index is being built" };
      core.commitsSinceOptimize = 0;
      const version = await core.watchdog.watch("optimize", core.options.optimizeLimitMs, () =>
        core.besideWrites(async () => {
          await core.catchUp(table);
          return table.optimize(core.options.keepVersionsMs);
        }),
      );
      if (version === undefined) return { still_running: true };
      await core.meta.noteLanceVersion(table.name, version);
      const renewedCaches = await this.renewCachesIfStale(table);
      // Compaction and index merges free what they read; glibc keeps much of it unless trimmed (native-memory.ts).
      if (!renewedCaches) await releaseFreedMemory({ collect: false });
      const rows = await table.countRows();
      const indexed = await table.hasVectorIndex();
      const trainedOn = await core.meta.getSetting<number>(annTrainedKey(table));
      const growth = indexed && trainedOn !== undefined ? rows / trainedOn : 0;
      const retrain = growth >= ANN_RETRAIN_GROWTH && (trigger === "request" || growth >= ANN_RETRAIN_FORCED_GROWTH || this.writesQuiet(core.options.annRetrainQuietMs));
      const train = (!indexed && rows >= core.options.annMinRows) || retrain;
      if (train) this.buildAnnIndex(table, rows, indexed);
      this.retrainWaiting = growth >= ANN_RETRAIN_GROWTH && !retrain;
      const training = train ? { ann_training: ANN_TRAINING.started } : this.retrainWaiting ? { ann_training: ANN_TRAINING.waiting } : {};
      return { rows, ann_index: indexed, ...(trainedOn !== undefined ? { ann_trained_on_rows: trainedOn } : {}), ...training, ...(renewedCaches ? { renewed_caches: true } : {}) };
    });
  }

  /**
   * After an optimize, whose new index files leave the old ones' cache
   * entries dead: moves the table to a fresh connection once its caches
   * hold mostly such entries (see cachesWantRenewal). The switch is made
   * under the commit lock, so no write is under way on the old connection;
   * searches on it finish there. Not while an ANN build may be reading
   * through it.
   */
  private async renewCachesIfStale(table: VectorTable): Promise<boolean> {
    if (this.annBuild || !(await table.cachesWantRenewal(this.core.options.cacheRenewalFloorBytes))) return false;
    await this.renewCaches(table, "after an optimize");
    return true;
  }

  /** Moves the table to fresh caches (VectorTable.renewCaches) and logs what the old ones gave back. */
  private async renewCaches(table: VectorTable, when: string): Promise<void> {
    const released = await table.renewCaches(this.core.assertWritable());
    this.core.log(`renewed Lance's caches ${when}: ${describeRelease(released)}`, "info");
  }

  /** No write has been committed for `ms`. */
  private writesQuiet(ms: number): boolean {
    return Date.now() - this.core.lastCommitAt > ms;
  }

  /**
   * Whether the table itself asks for an optimize: the rows the keyword or
   * the vector index does not cover yet are many enough to fold in now, or,
   * on a store replicas share, other replicas' commits left many small
   * fragments (this process counts only its own commits). The leader of a
   * shared store opens the table for it, whether or not it served a request.
   * The vector index needs folding even when no write follows: an ANN build
   * runs beside compaction, and one that commits after a compaction rewrote
   * the fragments it read covers none of the new ones (in bench:scale, an
   * index trained on 87,000 rows committed covering 0 of 100,000).
   */
  private async tableWantsOptimize(): Promise<boolean> {
    const { core } = this;
    const shared = core.maintenanceLeader !== null;
    const table = shared ? await core.vectorsIfBound() : await core.openedTable();
    if (!table) return false;
    const stats = await table.stats();
    const backlog = [stats.keyword_index, stats.index].some(
      (index) => index !== null && index.unindexed_rows > 0 && (index.unindexed_rows >= FOLD_BACKLOG_ROWS || index.unindexed_rows > FOLD_BACKLOG_SHARE * index.indexed_rows),
    );
    return backlog || (shared && stats.small_fragments >= core.options.optimizeAfterCommits);
  }

  private scheduleGc(): void {
    if (this.core.options.background === false || this.gcSoon) return;
    this.gcSoon = setTimeout(() => {
      this.gcSoon = null;
      this.core.track(this.onTurn(() => this.gc()));
    }, GC_DEBOUNCE_MS);
    this.gcSoon.unref();
  }

  /**
   * Index builds take tens of seconds at 100k rows: off the lock, in the
   * background; searches stay exact meanwhile. Not tracked with the other
   * background work: close() must not wait for a build, and an unfinished
   * build simply never commits.
   */
  private buildAnnIndex(table: VectorTable, rows: number, replacing: boolean): void {
    const { core } = this;
    this.annBuild ??= (async () => {
      const built = await core.watchdog.watch("vector index build", core.options.indexBuildLimitMs, async () => {
        await core.options.faults?.beforeIndexBuild?.();
        await core.meta.noteLanceVersion(table.name, await core.besideWrites(() => table.createVectorIndex(rows)));
        await core.meta.setSetting(annTrainedKey(table), rows);
        return true;
      });
      if (!built) return;
      // Every cache entry of the index a retraining replaced is dead now: at 1M chunks, half the caches. A failed
      // renewal costs only memory.
      if (replacing) await this.renewCaches(table, "after the ANN retraining").catch((error) => core.log(`renewing Lance's caches after the ANN retraining failed: ${errorMessage(error)}`));
      else core.log(`built the ANN index over ${rows} rows: ${describeRelease(await releaseFreedMemory({ collect: false }))}`, "info");
    })()
      .catch((error) => core.log(`building the ANN index failed, will retry: ${errorMessage(error)}`))
      .finally(() => (this.annBuild = null));
  }

  /** Tables a reindex replaced, once every reader has had time to move to the new one. */
  private async dropRetiredTables(): Promise<string[]> {
    const { core } = this;
    const due = (retired: RetiredTable[]) => retired.filter((t) => Date.now() - t.at >= core.options.keepVersionsMs);
    if (due(await core.meta.retiredTables()).length === 0) return [];
    return core.assertWritable().run(async () => {
      const retired = await core.meta.retiredTables();
      const dropping = due(retired);
      for (const t of dropping) if (await VectorTable.exists(core.connection, t.name)) await core.connection.dropTable(t.name);
      await core.meta.setSetting(SETTINGS.retired, retired.filter((t) => !dropping.includes(t)));
      return dropping.map((t) => t.name);
    });
  }

  /** Maintenance jobs run one at a time per store and record their outcome in SQLite for `status`. */
  private exclusive(name: string, job: () => Promise<Record<string, unknown>>): Promise<RunReport> {
    const { core } = this;
    const run = this.queue.then(async () => {
      core.assertOpen();
      core.assertWritable();
      const started = Date.now();
      const at = new Date(started).toISOString();
      let report: RunReport;
      try {
        report = { at, took_ms: 0, ok: true, ...(await job()) };
      } catch (caught) {
        const error = core.storageFailure(caught, MAINTENANCE_ACTIONS[name] ?? name, "Nothing acknowledged is lost; it is retried on the next run.");
        report = { at, took_ms: Date.now() - started, ok: false, error: errorMessage(error) };
        // On a full disk recording the failure may fail too; the error itself is what matters.
        if (!core.closed) await core.meta.setSetting(name, report).catch((e: unknown) => core.log(`could not record the ${name} report: ${errorMessage(e)}`));
        throw error;
      }
      report.took_ms = Date.now() - started;
      if (!core.closed) await core.meta.setSetting(name, report);
      return report;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
