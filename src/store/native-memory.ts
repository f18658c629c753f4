import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives memory Lance freed back to the system. Two things keep it:
 *
 * - A closed Lance connection's caches live until V8 collects the small
 *   JavaScript object of its session: closing a connection and its table
 *   that held 162 MB of caches (by Lance's count) left RSS at 238 MB; two
 *   full collections and a trim brought it to 137. V8 sees only the small
 *   object, so it may wait for minutes; at 1M chunks the renewal after a
 *   retraining took RSS from 1,671 to 383 MB this way (bench:scale).
 * - glibc keeps freed heap pages that lie below live blocks: after an
 *   IVF_HNSW_SQ build over 300,000 rows of 384-d (under the server's 1 MiB
 *   mmap threshold, allocator.ts) RSS stayed at 335 MB, and malloc_trim(0)
 *   brought it to 120; a retraining then peaked 188 MB lower (1,024
 *   against 1,212 MB).
 *
 * So after an index build or an optimize the store trims, and after a
 * connection closes it collects first. Other C libraries (musl, macOS)
 * have no malloc_trim: there only the collection runs.
 */

/** What one release did: RSS before and after, and whether malloc_trim ran. */
export interface MemoryRelease {
  rss_before_bytes: number;
  rss_after_bytes: number;
  took_ms: number;
  trimmed: boolean;
}

type Trim = () => Promise<void>;

let trim: Trim | null | undefined;
let collect: (() => void) | undefined;

/** glibc's malloc_trim(0), run on koffi's worker thread: it walks every arena, and the event loop must not wait for that. */
function glibcTrim(): Trim | null {
  if (trim !== undefined) return trim;
  trim = null;
  if (process.platform !== "linux") return trim;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    const mallocTrim = koffi.load("libc.so.6").func("int malloc_trim(size_t)");
    trim = () => new Promise((resolve, reject) => mallocTrim.async(0, (error: unknown) => (error ? reject(error) : resolve())));
  } catch {
    // No glibc (musl names its C library otherwise), or no koffi build for this platform: nothing to trim with.
  }
  return trim;
}

/** A full V8 collection: the flag is set for this one context-free function, not exposed as a global. */
function collectGarbage(): void {
  collect ??= (() => {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  })();
  collect();
}

/**
 * Gives freed native memory back to the system: with `collect`, first
 * collects the objects of closed Lance connections so that their caches
 * are freed (a full collection pauses the event loop: tens of
 * milliseconds, so only after a connection closed).
 */
export async function releaseFreedMemory(options: { collect: boolean }): Promise<MemoryRelease> {
  const started = performance.now();
  const before = process.memoryUsage.rss();
  if (options.collect) {
    // The first collection finds the session's object unreachable; its native part is freed by a second one, after
    // the finalizers the first queued have run on a later turn (measured: RSS fell only after the second).
    for (let pass = 0; pass < 2; pass++) {
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const run = glibcTrim();
  // A failing trim costs memory, never the job that asked for it.
  const trimmed = run !== null && (await run().then(() => true, () => false));
  return { rss_before_bytes: before, rss_after_bytes: process.memoryUsage.rss(), took_ms: performance.now() - started, trimmed };
}
