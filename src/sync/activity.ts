import { errorMessage } from "../store/errors.js";
import type { SyncCounts } from "./sync.js";

/** Who ingests in a server process: the folder watcher or the ingest_files tool. */
export const INGEST_SOURCES = ["watch", "ingest_files"] as const;
export type IngestSource = (typeof INGEST_SOURCES)[number];

export interface IngestRunReport {
  by: IngestSource;
  started_at: string;
  /** Files handled so far of the files found. */
  done: number;
  total: number;
}

export interface IngestActivityReport {
  /** Folders the server keeps in step with the disk (serve --watch). */
  watching: string[];
  /** Changed paths seen by the watcher and not yet handled (waiting for a burst of changes to settle). */
  queued: number;
  running: IngestRunReport[];
  /** Runs finished since the server started, watcher batches and ingest_files calls together. */
  runs: number;
  last: null | (SyncCounts & { by: IngestSource; finished_at: string; took_ms: number; error?: string });
}

export interface IngestRun {
  progress(done: number): void;
  finish(outcome: SyncCounts | { error: unknown }): void;
}

/**
 * What ingestion in this server process is doing, for embedding_status:
 * the watched folders, changes waiting, runs in progress and the last one
 * finished. Lives in the process (not the store): it describes this
 * server's own work.
 */
export class IngestActivity {
  private watching: string[] = [];
  private queued = 0;
  private runs = 0;
  private readonly running = new Set<IngestRunReport>();
  private last: IngestActivityReport["last"] = null;

  setWatching(folders: readonly string[]): void {
    this.watching = [...folders];
  }

  setQueued(count: number): void {
    this.queued = count;
  }

  start(by: IngestSource, total: number): IngestRun {
    const started = Date.now();
    const run: IngestRunReport = { by, started_at: new Date(started).toISOString(), done: 0, total };
    this.running.add(run);
    return {
      progress: (done) => void (run.done = done),
      finish: (outcome) => {
        if (!this.running.delete(run)) return;
        this.runs++;
        const counts = "error" in outcome ? EMPTY_COUNTS : outcome;
        this.last = {
          ...counts,
          by,
          finished_at: new Date().toISOString(),
          took_ms: Date.now() - started,
          ...("error" in outcome ? { error: errorMessage(outcome.error) } : {}),
        };
      },
    };
  }

  report(): IngestActivityReport {
    return { watching: [...this.watching], queued: this.queued, running: [...this.running].map((r) => ({ ...r })), runs: this.runs, last: this.last };
  }
}

const EMPTY_COUNTS: SyncCounts = { indexed: 0, unchanged: 0, skipped: 0, failed: 0, pruned: 0, chunks_written: 0, chunks_removed: 0 };
