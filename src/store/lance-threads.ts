import { availableParallelism } from "node:os";

/**
 * LanceDB sizes its CPU pool by the number of cores, and on a 2-core
 * machine (a small laptop VM, a CI runner) a full-text index build over
 * 50,000 rows never finished: one pool worker waits on another that never
 * runs. With 8 threads the same machine built the index over 100,000 rows
 * in 8 s and over 1,000,000 in 12 s. The pool must be sized before LanceDB
 * loads, so this module is imported ahead of it (see lance.ts); a value the
 * user set is kept.
 */
export const MIN_LANCE_THREADS = 8;

export const lanceThreadsPreset = process.env.LANCE_CPU_THREADS !== undefined && process.env.LANCE_CPU_THREADS !== "";
if (!lanceThreadsPreset) process.env.LANCE_CPU_THREADS = String(Math.max(MIN_LANCE_THREADS, availableParallelism()));

// Lance logs a deprecation warning on every index-statistics call unless told which behaviour to use.
process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= "false";

/**
 * Tables use stable row ids (vector-table.ts), and on those Lance warns on
 * every count with a filter that it counts by scanning: once per filtered
 * search (the planner counts the matching rows, search.ts), a line a user
 * can do nothing about. Other warnings stay on; a LANCEDB_LOG the user set
 * (not empty: empty counts as unset, as for every variable) is kept.
 */
if (!process.env.LANCEDB_LOG) process.env.LANCEDB_LOG = "warn,lance::io::exec::count_pushdown=error";
