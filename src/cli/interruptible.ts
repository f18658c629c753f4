import { ProgressBar } from "./progress.js";

/** What a long, resumable command hands to its job: the abort signal and the progress callbacks. */
export interface LongRun {
  /** Aborted by Ctrl-C or SIGTERM; the job stops after the step in progress, which it has saved. */
  signal: AbortSignal;
  /** Chunks done of the total, drawn as a bar on stderr from the first report on. */
  onProgress(done: number, total: number): void;
  /** Clears the bar before the command prints its result. */
  endProgress(): void;
}

/** Runs a batch command (reindex, migrate) that Ctrl-C interrupts cleanly and that shows its progress. */
export async function interruptible<T>(job: (run: LongRun) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  let bar: ProgressBar | null = null;
  try {
    return await job({
      signal: controller.signal,
      onProgress: (done, total) => {
        bar ??= new ProgressBar(process.stderr, total, "chunks");
        bar.update(done, "");
      },
      endProgress: () => bar?.clear(),
    });
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}
