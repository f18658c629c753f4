import { spawn } from "node:child_process";
import { once } from "node:events";
import { constants } from "node:os";

/**
 * glibc's malloc raises its mmap threshold each time a large block is
 * freed, so the multi-megabyte buffers Lance allocates per vector scan end
 * up on the heap, where a mix of searches and writes fragments it and RSS
 * only grows: bench:soak measured 37 MiB/min over 10 minutes (743 to 940
 * MiB). A fixed 1 MiB threshold keeps such buffers in their own mappings,
 * returned to the system when freed: the same load then grew 7-14 MiB/min,
 * and that rest came from maintenance falling behind and Lance's caches
 * filling with dead index entries (see maintenance.ts, lance-connection.ts).
 * Index builds gain most: an IVF_HNSW_SQ build over 1M rows of 384-d
 * peaked at 1,795 MB RSS and kept 1,208 MB after it, with the threshold
 * 1,206 and 608 MB; capping malloc's arenas as well (MALLOC_ARENA_MAX=2)
 * gained nothing more (1,213 and 551 MB), so it is not set. glibc reads
 * the setting once at start-up, from the environment, so the process must
 * be started with it; other C libraries ignore it.
 */
const VARIABLE = "MALLOC_MMAP_THRESHOLD_";
const THRESHOLD_BYTES = String(1024 * 1024);

/** The environment a long-running server process starts with (benchmarks start their store processes with it too). */
export const SERVER_ALLOCATOR_ENV: Readonly<Record<string, string>> = { [VARIABLE]: THRESHOLD_BYTES };
const FORWARDED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * For long-running servers: unless this process was started with the
 * setting (or it is not Linux, or the user chose a value), runs this same
 * command again as a child with it, passing signals on, and resolves with
 * the child's exit code. Resolves null when this process should do the
 * work itself.
 */
export async function rerunWithMmapThreshold(): Promise<number | null> {
  if (process.platform !== "linux") return null;
  if (process.env[VARIABLE] !== undefined) {
    stopWithParent();
    return null;
  }
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    // The IPC channel only tells the child when this process is gone (stopWithParent).
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...SERVER_ALLOCATOR_ENV },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  return code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
}

/** In the child: stop cleanly (as on SIGTERM) when the parent dies, even by SIGKILL, so no server outlives it holding the port. */
function stopWithParent(): void {
  if (!process.channel) return;
  process.channel.unref();
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
}
