import { StoreError, errorMessage } from "./errors.js";

/** What embedding_status reports about the model's load. */
export interface ModelLoadReport {
  state: "not_started" | "loading" | "ready" | "failed";
  started_at: string | null;
  /** How long the load ran (loading: so far). */
  elapsed_ms: number | null;
  /** What it is doing, e.g. "downloading onnx/model.onnx: 45% of 90.4 MB". */
  detail: string | null;
  /** Why the last attempt failed; the next request tries again. */
  error: string | null;
}

export interface ModelLoadOptions<T> {
  /** Loads the model and binds the store; receives the store's closing signal, never a request's. */
  load: (signal: AbortSignal) => Promise<T>;
  /** What is loaded, for messages: "embedding model", "reranker". */
  kind: string;
  name: () => string;
  progress: () => string | null;
  /** Aborted when the store closes: the only thing that stops a load. */
  closing: AbortSignal;
  /** How long a request waits for a load before it is told the model is still loading. */
  waitMs: number;
  /** Progress for people; only for loads slower than a second, so instant ones (hash, a cached model) stay quiet. */
  log: (message: string) => void;
}

const SLOW_LOAD_MS = 1_000;

/**
 * A model load (or download) that belongs to the store, not to the request
 * that happened to need it first: a client that cancels or times out stops
 * waiting, and the load goes on for the next request. Waiting requests get
 * a "still loading" error past `waitMs`, short of a client's own request
 * timeout, so they hear why instead of timing out.
 */
export class ModelLoad<T> {
  private loading: Promise<T> | null = null;
  private startedAt: number | null = null;
  private finishedAt: number | null = null;
  private loaded = false;
  private failure: string | null = null;

  constructor(private readonly options: ModelLoadOptions<T>) {}

  /** The loaded model: at once when loaded; else waits, up to `waitMs` unless `patient` (background work). */
  async get(wait: { signal?: AbortSignal; patient?: boolean } = {}): Promise<T> {
    const loading = this.start();
    if (this.loaded) return loading;
    const waits: Promise<T>[] = [loading];
    const timers: NodeJS.Timeout[] = [];
    let onAbort: (() => void) | null = null;
    if (!wait.patient) {
      waits.push(new Promise<T>((_, reject) => timers.push(setTimeout(() => reject(this.stillLoading()), this.options.waitMs))));
    }
    if (wait.signal) {
      const signal = wait.signal;
      waits.push(
        new Promise<T>((_, reject) => {
          onAbort = () => reject(new StoreError("aborted", "The request was cancelled while the model was loading; the load goes on, and nothing was written."));
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }),
      );
    }
    try {
      return await Promise.race(waits);
    } finally {
      for (const timer of timers) clearTimeout(timer);
      if (onAbort) wait.signal?.removeEventListener("abort", onAbort);
    }
  }

  report(): ModelLoadReport {
    const state = this.loaded ? "ready" : this.loading ? "loading" : this.failure !== null ? "failed" : "not_started";
    const end = this.finishedAt ?? Date.now();
    return {
      state,
      started_at: this.startedAt === null ? null : new Date(this.startedAt).toISOString(),
      elapsed_ms: this.startedAt === null ? null : end - this.startedAt,
      detail: state === "loading" ? this.options.progress() : null,
      error: this.failure,
    };
  }

  private start(): Promise<T> {
    if (this.loading) return this.loading;
    this.startedAt = Date.now();
    this.finishedAt = null;
    let announced = false;
    const slow = setTimeout(() => {
      announced = true;
      this.options.log(`loading the ${this.options.kind} ${this.options.name()}; requests that need it wait up to ${this.options.waitMs / 1000} s, then are told to retry`);
    }, SLOW_LOAD_MS);
    slow.unref();
    const loading = this.options.load(this.options.closing);
    this.loading = loading;
    loading.then(
      () => {
        clearTimeout(slow);
        this.loaded = true;
        this.finishedAt = Date.now();
        this.failure = null;
        if (announced) this.options.log(`${this.options.kind} ${this.options.name()} ready after ${((this.finishedAt - this.startedAt!) / 1000).toFixed(1)} s`);
      },
      (error: unknown) => {
        clearTimeout(slow);
        // The next request starts a new attempt (the user may have fixed the network or the files meanwhile).
        this.loading = null;
        this.finishedAt = Date.now();
        this.failure = errorMessage(error);
        this.options.log(`loading the ${this.options.kind} ${this.options.name()} failed: ${this.failure}`);
      },
    );
    return loading;
  }

  private stillLoading(): StoreError {
    const detail = this.options.progress();
    const seconds = Math.round((Date.now() - (this.startedAt ?? Date.now())) / 1000);
    return new StoreError(
      "model_loading",
      `The ${this.options.kind} ${this.options.name()} is still loading (${seconds} s so far${detail ? `; ${detail}` : ""}); the load goes on in the background. ` +
        "Retry in a moment; embedding_status shows its progress. Nothing was written.",
    );
  }
}
