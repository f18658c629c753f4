import type { LanceCacheReport } from "./lance-connection.js";

/**
 * This process's memory, split where it can be measured from inside: V8's
 * heap and the buffers it tracks, and Lance's caches. What RSS holds beyond
 * them is native memory no one reports (Lance's buffers in flight,
 * allocator slack, SQLite's page caches of at most 2 MiB per connection).
 * bench:soak samples it to tell which part of a server grows.
 */
export interface MemoryReport {
  rss_bytes: number;
  js_heap_used_bytes: number;
  js_heap_total_bytes: number;
  /** Memory of native objects tied to JavaScript ones (Buffers among them), V8's `external`. */
  external_bytes: number;
  array_buffers_bytes: number;
  lance_cache: LanceCacheReport;
}

export function memoryReport(lanceCache: LanceCacheReport): MemoryReport {
  const usage = process.memoryUsage();
  return {
    rss_bytes: usage.rss,
    js_heap_used_bytes: usage.heapUsed,
    js_heap_total_bytes: usage.heapTotal,
    external_bytes: usage.external,
    array_buffers_bytes: usage.arrayBuffers,
    lance_cache: lanceCache,
  };
}
