/**
 * `npm run bench:snapshot`: does search ever miss a chunk that exists while
 * it is being rewritten? Over real MCP stdio (`node dist/cli.js serve`,
 * hash:384), 30 chunks each found by a word no other chunk has, searched in
 * keyword mode, in three situations:
 *   1. searches running while index_chunks rewrites all 30 (wait: true),
 *   2. searches right after an index_chunks rewrite with wait: false was acknowledged,
 *   3. the first searches of a server restarted after a SIGKILL in the middle of a rewrite.
 * Prints missed searches of each; every one of them should be 0. Asserts nothing.
 *
 * Flags: --rounds N (default 15, 5 and 6 for the three situations, scaled), --embedder <spec>.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const CHUNKS = 30;
const { values } = parseArgs({ options: { rounds: { type: "string" }, embedder: { type: "string", default: "hash:384" } } });
const scale = values.rounds === undefined ? 1 : Number(values.rounds) / 15;
const ROUNDS = { during: Math.round(15 * scale), afterWaitFalse: Math.max(1, Math.round(5 * scale)), afterKill: Math.max(1, Math.round(6 * scale)) };

/** A made-up word per chunk, so a keyword search for it has exactly one right answer. */
const word = (i: number): string => `zq${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}marker`;
const chunks = (round: number) => Array.from({ length: CHUNKS }, (_, i) => ({ chunk_id: `c${i}`, text: `${word(i)} entry ${i}, edition ${round}. ${"Filler words about nothing in particular. ".repeat(8)}` }));

interface Server {
  client: Client;
  pid: number;
  close(): Promise<void>;
}

async function startServer(dataDir: string): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "serve", "--data-dir", dataDir, "--embedder", values.embedder!],
    env: getDefaultEnvironment(),
    stderr: "ignore",
  });
  const client = new Client({ name: "bench-snapshot", version: "1.0.0" });
  await client.connect(transport);
  return { client, pid: transport.pid!, close: () => client.close() };
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  return result;
}

/** Searches every chunk's word once; returns how many searches did not find their chunk. */
async function missed(client: Client): Promise<number> {
  const found = await Promise.all(
    Array.from({ length: CHUNKS }, async (_, i) => {
      const result = await call(client, "semantic_search", { query: word(i), k: 3, mode: "keyword" });
      const hits = (result.structuredContent as { results: { chunk_id: string }[] }).results;
      return hits.some((h) => h.chunk_id === `c${i}`);
    }),
  );
  return found.filter((f) => !f).length;
}

async function main(): Promise<void> {
  const rows: [string, number, number][] = [];
  const root = mkdtempSync(join(tmpdir(), "bench-snapshot-"));
  try {
    // 1. Searches while index_chunks (wait: true) rewrites the 30 chunks.
    let dataDir = join(root, "during");
    let server = await startServer(dataDir);
    await call(server.client, "index_chunks", { chunks: chunks(0) });
    let misses = 0;
    for (let round = 1; round <= ROUNDS.during; round++) {
      const rewrite = call(server.client, "index_chunks", { chunks: chunks(round) });
      misses += await missed(server.client);
      await rewrite;
    }
    rows.push(["searches running while index_chunks rewrites the 30 chunks (wait: true)", misses, ROUNDS.during * CHUNKS]);
    await server.close();

    // 2. Searches right after a wait:false rewrite is acknowledged.
    dataDir = join(root, "wait-false");
    server = await startServer(dataDir);
    await call(server.client, "index_chunks", { chunks: chunks(0) });
    misses = 0;
    for (let round = 1; round <= ROUNDS.afterWaitFalse; round++) {
      await call(server.client, "index_chunks", { chunks: chunks(round), wait: false });
      misses += await missed(server.client);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    rows.push(["searches right after an index_chunks rewrite with wait: false was acknowledged", misses, ROUNDS.afterWaitFalse * CHUNKS]);
    await server.close();

    // 3. SIGKILL in the middle of a rewrite, then the restarted server's first searches.
    dataDir = join(root, "kill");
    server = await startServer(dataDir);
    await call(server.client, "index_chunks", { chunks: chunks(0) });
    misses = 0;
    let cutShort = 0;
    for (let round = 1; round <= ROUNDS.afterKill; round++) {
      const rewrite = call(server.client, "index_chunks", { chunks: chunks(round) }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 25));
      process.kill(server.pid, "SIGKILL");
      await rewrite;
      await server.close().catch(() => undefined);
      server = await startServer(dataDir);
      misses += await missed(server.client);
      const status = (await call(server.client, "embedding_status", {})).structuredContent as { counts: { pending: number } };
      if (status.counts.pending > 0) cutShort++;
    }
    rows.push([`the first searches of a restarted server after a SIGKILL in the middle of a rewrite (${cutShort} of ${ROUNDS.afterKill} kills left it pending)`, misses, ROUNDS.afterKill * CHUNKS]);
    await server.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`\n| situation (${CHUNKS} chunks, keyword mode, ${values.embedder}, MCP stdio) | searches that missed a chunk that exists |`);
  console.log("|:--|--:|");
  for (const [situation, miss, total] of rows) console.log(`| ${situation} | ${miss} / ${total} |`);
}

await main();
