// One measured run of bench:ingest, in plain Node on the built package (dist/), as `retrieval-mcp ingest`
// runs: under tsx's loader the same PDF extraction peaked at 430 MB instead of 100 MB, which would
// measure the loader, not the product. Started by bench/ingest.ts; answers over IPC.
import { mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { embedderFromSpec } from "../../dist/embed/from-spec.js";
import { extract } from "../../dist/ingest/extract.js";
import { findFiles } from "../../dist/ingest/files.js";
import { fileKind } from "../../dist/ingest/formats.js";
import { Store } from "../../dist/store/store.js";
import { countSync, syncFiles } from "../../dist/sync/sync.js";

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** The reference: reading, parsing and chunking every file, no store. */
async function extractOnly(folder) {
  const { files } = await findFiles([folder]);
  const perFormat = {};
  let chunks = 0;
  const started = performance.now();
  for (const file of files) {
    const t = performance.now();
    const result = await extract(readFileSync(file.path), fileKind(file.path, false));
    const n = result.kind === "chunks" ? result.chunks.length : 0;
    chunks += n;
    const row = (perFormat[extname(file.path)] ??= { files: 0, chunks: 0, ms: 0 });
    row.files++;
    row.chunks += n;
    row.ms += performance.now() - t;
  }
  const pass = { label: "read, parse and chunk only (the reference)", files: files.length, chunks, ms: performance.now() - started };
  return { passes: [pass], peakRssMb: peakRssMb(), perFormat };
}

/** The folder ingested into a new store, then again unchanged, then again with every file touched. */
async function ingest(folder, spec) {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-ingest-store-"));
  const store = await Store.open({ dataDir, embedder: embedderFromSpec(spec, { dataDir, offline: true, log: () => undefined }), background: false });
  const passes = [];
  const run = async (label) => {
    const found = await findFiles([folder]);
    const started = performance.now();
    const counts = countSync(await syncFiles(store, found, [folder]));
    passes.push({ label, files: found.files.length, chunks: counts.chunks_written, ms: performance.now() - started });
    return counts;
  };
  try {
    await run(`${spec}: first ingest`);
    const again = await run(`${spec}: again, unchanged (size and mtime)`);
    if (again.indexed > 0) throw new Error(`${again.indexed} unchanged files were indexed again`);
    const later = new Date(Date.now() + 60_000);
    for (const file of (await findFiles([folder])).files) utimesSync(file.path, later, later);
    const touched = await run(`${spec}: again, touched (sha256)`);
    if (touched.indexed > 0) throw new Error(`${touched.indexed} touched but equal files were indexed again`);
    return { passes, peakRssMb: peakRssMb() };
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const [mode, folder, spec] = process.argv.slice(2);
process.send(mode === "extract" ? await extractOnly(folder) : await ingest(folder, spec));
process.disconnect();
