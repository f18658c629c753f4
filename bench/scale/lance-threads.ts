/**
 * Imported first by the benchmark and its store process: the store's own
 * LanceDB settings (src/store/lance-env.ts: the thread pool, an index
 * build's shuffle buffer) apply before anything loads LanceDB, so the raw
 * reference in this process gets the same ones as the store and what is
 * measured is the store's choice (or the user's). The store process
 * inherits the variables.
 */
import { lanceThreadsPreset } from "../../src/store/lance-env.js";

export const lanceThreads = {
  value: process.env.LANCE_CPU_THREADS,
  source: lanceThreadsPreset ? "from the environment" : "sized by the store (src/store/lance-env.ts)",
};
