import { availableParallelism } from "node:os";
import { claimScratchDir } from "./lance-scratch.js";

/**
 * LanceDB sizes its CPU pool as the number of cores less two reserved for
 * I/O, at least one, and with one thread (any machine of 2 cores: a small
 * laptop VM, a CI runner) a full-text index build over 50,000 rows never
 * finished: one pool worker waits on another that never runs. Over the
 * same 1M rows on 2 cores, 2, 4 and 8 threads built it in 11-12 s. More
 * threads than cores cost an IVF_HNSW_SQ build over those rows hardly
 * any memory (peak RSS 1,622 MB with 4 threads, 1,694 MB with 8) and
 * saved time (330 s with 4, 253 s with 8), so 8. The pool must be sized
 * before LanceDB loads, so this module, which sets every variable LanceDB
 * reads once at load, is imported ahead of it (see lance.ts); a value the
 * user set is kept.
 */
export const MIN_LANCE_THREADS = 8;

export const lanceThreadsPreset = process.env.LANCE_CPU_THREADS !== undefined && process.env.LANCE_CPU_THREADS !== "";
if (!lanceThreadsPreset) process.env.LANCE_CPU_THREADS = String(Math.max(MIN_LANCE_THREADS, availableParallelism()));

/**
 * How much an ANN build's shuffle (rows sorted into IVF partitions) gathers
 * in memory, by LanceDB's count, before writing them to a temporary file.
 * With LanceDB's default, 128 MiB, an IVF_HNSW_SQ build over 300,000 rows
 * of 384-d in a bare process peaked at 1,245 MB, in a spike as its scan
 * ended; with 32 MiB it peaked at 880 MB and took 264 s against 277 s (16
 * MiB: 1,016 MB). The price is more ranges to read back per partition, from
 * a local temporary directory even for a store on object storage.
 */
const SHUFFLE_BATCH_BYTES = 32 * 2 ** 20;
process.env.LANCE_SHUFFLE_BATCH_BYTES ||= String(SHUFFLE_BATCH_BYTES);

// Where Lance's temporary files go, so that what its builds leave there can be removed (lance-scratch.ts).
claimScratchDir();

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
