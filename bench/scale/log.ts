/** Progress lines on stderr, from the benchmark and its store process alike; stdout carries only the report. */
export function log(who: "bench" | "store", message: string): void {
  process.stderr.write(`[bench:scale ${who} ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
