/**
 * `npm run demo`: a real MCP client starts `node dist/cli.js serve` over
 * stdio in a temporary data directory, indexes the sample corpus in
 * examples/corpus, runs a few searches, deletes a document and prints what
 * happened at each step.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { chunkText } from "../src/ingest/chunk.js";
import { decodeText } from "../src/ingest/decode.js";
import { findFiles } from "../src/ingest/files.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist", "cli.js");
const corpus = join(root, "examples", "corpus");
const EMBEDDER = "hash:384";

interface Hit {
  chunk_id: string;
  score: number;
  text: string;
}

function snippet(text: string, max = 110): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

async function call<T>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) {
    const text = (result.content as { type: string; text?: string }[]).map((c) => c.text ?? "").join(" ");
    throw new Error(`${name} failed: ${text}`);
  }
  return result.structuredContent as T;
}

async function search(client: Client, query: string, extra: Record<string, unknown> = {}): Promise<void> {
  const { results, took_ms } = await call<{ results: Hit[]; took_ms: number }>(client, "semantic_search", { query, k: 3, ...extra });
  const narrowed = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : "";
  console.log(`\n> semantic_search "${query}"${narrowed}  (${took_ms.toFixed(1)} ms in the server)`);
  if (results.length === 0) console.log("  no results");
  results.forEach((hit, i) => console.log(`  ${i + 1}. ${hit.score.toFixed(3)}  ${hit.chunk_id}\n     ${snippet(hit.text)}`));
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm ci does it for you).`);
  const dataDir = mkdtempSync(join(tmpdir(), "retrieval-mcp-demo-"));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, "serve", "--data-dir", dataDir, "--embedder", EMBEDDER],
    env: getDefaultEnvironment(),
    stderr: "pipe",
  });
  let serverLog = "";
  transport.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  const client = new Client({ name: "retrieval-mcp-demo", version: "1.0.0" });
  try {
    const started = performance.now();
    await client.connect(transport);
    const server = client.getServerVersion();
    console.log(`Started ${server?.name} ${server?.version} over stdio in ${(performance.now() - started).toFixed(0)} ms (data dir ${dataDir}, embedder ${EMBEDDER}).`);
    const { tools } = await client.listTools();
    console.log(`Tools: ${tools.map((t) => t.name).join(", ")}`);

    // The same chunking as `retrieval-mcp ingest`, with ids relative to the corpus so the output stays short.
    const chunks: Record<string, unknown>[] = [];
    const { files } = await findFiles([corpus]);
    for (const file of files) {
      const content = decodeText(await readFile(file.path));
      if (content.kind !== "text") continue;
      const docId = relative(corpus, file.path).split(sep).join("/");
      const topic = docId.split("/")[0]!;
      chunkText(content.text).forEach((chunk, n) =>
        chunks.push({ chunk_id: `${docId}#${n}`, doc_id: docId, text: chunk.text, metadata: { topic, heading: chunk.heading } }),
      );
    }
    const indexStarted = performance.now();
    const indexed = await client.callTool({ name: "index_chunks", arguments: { chunks } }, undefined, {
      // Progress notifications arrive while the batch is embedded; a redrawn line only makes sense on a terminal.
      onprogress: (p) => {
        if (process.stdout.isTTY) process.stdout.write(`\r\x1b[K  progress: ${p.progress}/${p.total ?? "?"} chunks`);
      },
    });
    if (process.stdout.isTTY) process.stdout.write("\r\x1b[K");
    if (indexed.isError) throw new Error(`index_chunks failed: ${JSON.stringify(indexed.content)}`);
    const counts = indexed.structuredContent as { committed: number; unchanged: number };
    console.log(`Indexed ${files.length} files of examples/corpus as ${chunks.length} chunks in ${(performance.now() - indexStarted).toFixed(0)} ms: ${counts.committed} committed, ${counts.unchanged} unchanged.`);

    console.log("\nThe hash embedder matches words, not meaning; start the server with a model embedder for semantic matches.");
    await search(client, "why does the Moon cause tides");
    await search(client, "sharpen a knife blade");
    await search(client, "crash recovery with a write-ahead log");
    await search(client, "bacteria and salt", { filter: { topic: "cooking" } });

    const deleted = await call<{ deleted: number; chunk_ids: string[] }>(client, "delete_chunk", { doc_id: "history/silk-road.txt" });
    console.log(`\n> delete_chunk {"doc_id":"history/silk-road.txt"}: deleted ${deleted.deleted} chunk(s): ${deleted.chunk_ids.join(", ")}`);
    await search(client, "Silk Road caravan routes");

    const status = await call<{ counts: Record<string, number>; model: { provider: string; name: string; dimension: number } }>(client, "embedding_status", {});
    console.log(`\n> embedding_status: ${JSON.stringify(status.counts)}, model ${status.model.provider}:${status.model.name} (${status.model.dimension}-d)`);
  } catch (error) {
    if (serverLog) console.error(`server log:\n${serverLog}`);
    throw error;
  } finally {
    await client.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log("\nDone. The server exited when the client closed stdin; its temporary data directory was removed.");
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
