/**
 * Imported first by the benchmark and its store process, before anything
 * loads LanceDB: LanceDB reads LANCE_CPU_THREADS once, when its thread pool
 * starts. On this 2-core machine an FTS index build over ~1M rows with the
 * default pool hangs forever (0% CPU, one worker waiting on an event
 * listener); with 8 threads the same build finished in ~12 s (issue 9). A
 * value the environment already has is kept, so the store's own choice
 * (or the user's) is what gets measured. The store process inherits it.
 */
const inherited = process.env.LANCE_CPU_THREADS;
process.env.LANCE_CPU_THREADS ??= "8";

export const lanceThreads = {
  value: process.env.LANCE_CPU_THREADS,
  source: inherited === undefined ? "set by bench:scale" : "from the environment",
};
