import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export interface Latency {
  p50: number;
  p95: number;
  mean: number;
}

/** Nearest-rank percentile (q in 0..1) of sorted samples: no interpolation between samples that never happened. NaN when empty. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function latency(samplesMs: readonly number[]): Latency {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), mean: sorted.reduce((s, x) => s + x, 0) / sorted.length };
}

export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

/** The process's peak resident set so far, in MiB (the kernel's high-water mark, so nothing between samples is missed). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

/** Bytes of every file under `dir`, in MiB (what the data directory takes on disk, before filesystem overhead). */
export function diskMb(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return bytes / 2 ** 20;
}

/**
 * Runs the store's and the reference's share of one round, the store first
 * on even rounds: load from other users of the machine falls on both alike,
 * and neither always meets the cache the other warmed.
 */
export async function inTurn(round: number, store: () => Promise<void>, reference: () => Promise<void>): Promise<void> {
  const [first, second] = round % 2 === 0 ? [store, reference] : [reference, store];
  await first();
  await second();
}

/** Runs `n` tasks with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}
