/**
 * npm run bench:embed — load time, RSS after load, throughput (texts/s) and
 * p50 latency of one query embedding for each provider that runs without
 * network. Each provider runs in its own child process so load time and RSS
 * are its own.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { embedderFromSpec } from "../src/embed/from-spec.js";
import { TINY_BERT_ID, writeTinyBert } from "../test/fixtures/tiny-bert.js";

interface Row {
  spec: string;
  dimension: number;
  loadMs: number;
  rssMb: number;
  textsPerSecond: number;
  queryP50Ms: number;
}

const DOCUMENTS = 256;
const QUERIES = 50;
const WORDS = "the database stores every chunk of text with its vector so that a query finds the nearest passages by meaning even when the words differ".split(" ");

function documents(): string[] {
  return Array.from({ length: DOCUMENTS }, (_, i) => Array.from({ length: 48 }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length]).join(" "));
}

async function measure(spec: string): Promise<Row> {
  const models = mkdtempSync(join(tmpdir(), "bench-embed-"));
  try {
    writeTinyBert(models);
    const embedder = embedderFromSpec(spec, { modelPath: models, offline: true, log: () => undefined });
    let started = performance.now();
    const info = await embedder.load();
    const loadMs = performance.now() - started;
    const rssMb = process.memoryUsage().rss / 2 ** 20;

    const docs = documents();
    await embedder.embed(docs.slice(0, 8), { kind: "document" });
    started = performance.now();
    for (let i = 0; i < docs.length; i += embedder.maxBatchSize) await embedder.embed(docs.slice(i, i + embedder.maxBatchSize), { kind: "document" });
    const textsPerSecond = docs.length / ((performance.now() - started) / 1000);

    const latencies: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      started = performance.now();
      await embedder.embed([`where is query number ${i} stored`], { kind: "query" });
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    await embedder.close?.();
    return { spec, dimension: info.dimension, loadMs, rssMb, textsPerSecond, queryP50Ms: latencies[Math.floor(latencies.length / 2)]! };
  } finally {
    rmSync(models, { recursive: true, force: true });
  }
}

function inChild(spec: string): Promise<Row> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--one", spec], { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.once("message", (row) => resolve(row as Row));
    child.once("exit", (code) => reject(new Error(`benchmark of ${spec} exited with ${code}`)));
  });
}

function table(rows: readonly Row[]): string {
  const header = ["provider", "dim", "load ms", "RSS after load MB", "texts/s", "query p50 ms"];
  const body = rows.map((r) => [r.spec, String(r.dimension), r.loadMs.toFixed(0), r.rssMb.toFixed(0), r.textsPerSecond.toFixed(0), r.queryP50Ms.toFixed(2)]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(" | ")} |`;
  return [line(header), `|${widths.map((w, c) => (c === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...body.map(line)].join("\n");
}

const SPECS = ["offline", "hash:384", `transformers:${TINY_BERT_ID}`];

if (process.argv[2] === "--one") {
  process.send!(await measure(process.argv[3]!));
  process.disconnect();
} else {
  const rows: Row[] = [];
  for (const spec of SPECS) rows.push(await inChild(spec));
  console.log(`${DOCUMENTS} documents of 48 words in each provider's batch size, ${QUERIES} single queries; one process per provider.\n`);
  console.log(table(rows));
  console.log(`\n(${`transformers:${TINY_BERT_ID}`} is the 32-d test fixture, not a real model: it measures the pipeline's overhead.)`);
}
