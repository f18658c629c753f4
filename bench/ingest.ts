/**
 * npm run bench:ingest — ingesting a generated folder of a few hundred files
 * of mixed formats (Markdown, text in three encodings, code in eight
 * languages, HTML, Word, PDF), as `retrieval-mcp ingest` does: files/s,
 * chunks/s and peak RSS with the hashing and the offline embedder, then
 * re-ingesting it unchanged (size and mtime) and touched (sha256). The
 * reference, measured in the same run: reading, parsing and chunking the
 * same files without the store. Each row group runs in its own plain Node
 * process on the built package (bench/ingest/worker.mjs), so its peak RSS
 * is its own and no TypeScript loader is measured.
 *
 *   npm run bench:ingest [-- --scale 2]   (scale 1: 300 files; builds dist/ first)
 */
import { fork } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFolder } from "./ingest/folder.js";
import { int, ms, table } from "./store/report.js";

const SEED = 20_240_601;
const EMBEDDERS = ["hash:384", "offline"];

interface Pass {
  label: string;
  files: number;
  chunks: number;
  ms: number;
}

/** What bench/ingest/worker.mjs answers. */
interface WorkerResult {
  passes: Pass[];
  peakRssMb: number;
  /** Extraction only: time, files and chunks by extension. */
  perFormat?: Record<string, { files: number; chunks: number; ms: number }>;
}

const WORKER = fileURLToPath(new URL("./ingest/worker.mjs", import.meta.url));
const BUILT = fileURLToPath(new URL("../dist/sync/sync.js", import.meta.url));

/** Plain Node, no TypeScript loader: the measured process is the product as users run it. */
function inChild(args: string[]): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, args, { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.once("message", (result) => resolve(result as WorkerResult));
    child.once("exit", (code) => reject(new Error(`bench:ingest worker ${args.join(" ")} exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first (the benchmark measures the built package).`);
  const scaleAt = process.argv.indexOf("--scale");
  const scale = scaleAt === -1 ? 1 : Number(process.argv[scaleAt + 1]);
  if (!(scale > 0)) throw new Error("--scale takes a positive number (1 = 300 files)");
  const folder = mkdtempSync(join(tmpdir(), "bench-ingest-files-"));
  try {
    const started = performance.now();
    const stats = await writeFolder(folder, SEED, scale);
    console.log(`Generated ${stats.files} files in ${ms(performance.now() - started)} ms: ${Object.entries(stats.byKind).map(([k, v]) => `${v} ${k}`).join(", ")}.\n`);
    const reference = await inChild(["extract", folder]);
    const results = [reference];
    for (const spec of EMBEDDERS) results.push(await inChild(["ingest", folder, spec]));
    const rows = results.flatMap((r) =>
      r.passes.map((p, i) => [
        p.label,
        int(p.files),
        int(p.chunks),
        (p.ms / 1000).toFixed(2),
        int(p.files / (p.ms / 1000)),
        p.chunks > 0 ? int(p.chunks / (p.ms / 1000)) : "—",
        ms(p.ms / p.files),
        i === 0 ? int(r.peakRssMb) : "",
      ]),
    );
    console.log(table(["run", "files", "chunks written", "s", "files/s", "chunks/s", "ms a file", "peak RSS MB (process)"], rows));
    const perFormat = Object.entries(reference.perFormat ?? {}).sort((a, b) => b[1].ms / b[1].files - a[1].ms / a[1].files);
    console.log(`\nReading, parsing and chunking by format (the reference run):\n`);
    console.log(table(["extension", "files", "chunks", "ms a file"], perFormat.map(([ext, r]) => [ext, int(r.files), int(r.chunks), ms(r.ms / r.files)])));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

await main();
