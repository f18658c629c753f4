import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { writePdf } from "./fixtures/documents.js";
import { assertBuilt } from "./helpers/cli.js";
import { connectStdio, ok, textOf, type StdioSession } from "./helpers/mcp.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();

beforeAll(assertBuilt);

function sentences(topic: string, count: number): string {
  return Array.from({ length: count }, (_, i) => `The ${topic} entry ${i} holds one more fact about ${topic}s.`).join(" ");
}

async function withServer(args: string[], run: (s: StdioSession) => Promise<void>): Promise<void> {
  const session = await connectStdio([...args, "--embedder", "hash:64"]);
  try {
    await run(session);
  } finally {
    await session.close();
  }
}

interface Ingested {
  indexed: number;
  unchanged: number;
  skipped: number;
  failed: number;
  pruned: number;
  files: { path: string; status: string; reason?: string }[];
  not_found: string[];
  pruned_documents: string[];
  prune_refused: { root: string; reason: string }[];
}

describe("ingest_files over stdio", () => {
  it("is listed only with --allow-ingest, and ingests files and folders inside it, with progress and citations", async () => {
    const allowed = tempDir();
    const dataDir = tempDir();
    mkdirSync(join(allowed, "docs", "deep"), { recursive: true });
    writeFileSync(join(allowed, "docs", "harbour.md"), `# Harbour\n\n${sentences("mooring", 6)}\n\n## Tides\n\n${sentences("tide", 6)}\n`);
    writeFileSync(join(allowed, "docs", "deep", "keeper.txt"), sentences("keeper", 4));
    await writePdf(join(allowed, "log.pdf"), [[sentences("logbook", 10)], [sentences("storm", 10)]]);

    await withServer(["--data-dir", dataDir], async (plain) => {
      expect((await plain.client.listTools()).tools.map((t) => t.name)).not.toContain("ingest_files");
    });
    await withServer(["--data-dir", dataDir, "--allow-ingest", allowed], async (s) => {
      const tool = (await s.client.listTools()).tools.find((t) => t.name === "ingest_files");
      expect(tool?.description).toContain(allowed);
      expect(tool?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });

      const first = (await s.client.callTool({ name: "ingest_files", arguments: { paths: ["docs", join(allowed, "log.pdf")] } }, undefined, {
        onprogress: () => undefined,
      })) as Parameters<typeof ok>[0];
      expect(ok<Ingested>(first)).toMatchObject({ indexed: 3, unchanged: 0, failed: 0, not_found: [] });
      // One notification per file, all before the answer.
      const answered = s.received.findIndex((m) => "result" in m && (m.result as { structuredContent?: unknown }).structuredContent !== undefined);
      const progress = s.received
        .map((m, at) => ({ m, at }))
        .filter(({ m }) => "method" in m && m.method === "notifications/progress")
        .map(({ m, at }) => ({ ...("params" in m ? (m.params as { progress: number; total: number }) : { progress: -1, total: -1 }), at }));
      expect(progress.map((p) => [p.progress, p.total])).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
      expect(progress.every((p) => p.at < answered)).toBe(true);

      const hits = await s.call("semantic_search", { query: "storm entry", k: 1, mode: "keyword" });
      expect(ok(hits).results[0]).toMatchObject({ doc_id: join(allowed, "log.pdf"), metadata: { page: 2, source: join(allowed, "log.pdf") } });
      expect(textOf(hits)).toContain(`from ${join(allowed, "log.pdf")}, page 2`);
      const tides = ok(await s.call("semantic_search", { query: "tide entry", k: 1, mode: "keyword" })).results[0];
      expect(tides.metadata).toMatchObject({ heading: "Harbour > Tides", line_start: expect.any(Number), line_end: expect.any(Number) });

      // Again: nothing changed, nothing is read or embedded.
      expect(ok<Ingested>(await s.call("ingest_files", { paths: [allowed] }))).toMatchObject({ indexed: 0, unchanged: 3 });

      const status = ok(await s.call("embedding_status", {}));
      expect(status.ingest).toMatchObject({ watching: [], running: [], runs: 2, last: { by: "ingest_files", indexed: 0, unchanged: 3 } });
    });
  });

  it("refuses .., absolute paths elsewhere and symbolic links that lead out, and writes nothing then", async () => {
    const base = tempDir();
    const allowed = join(base, "allowed");
    const outside = join(base, "outside");
    mkdirSync(allowed);
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.md"), "# Secret\n\nnot for agents\n");
    writeFileSync(join(allowed, "ok.md"), "# Fine\n\nallowed text\n");
    symlinkSync(join(outside, "secret.md"), join(allowed, "link.md"));
    symlinkSync(outside, join(allowed, "outdir"));

    await withServer(["--data-dir", tempDir(), "--allow-ingest", allowed], async (s) => {
      const refusals: [unknown[], RegExp][] = [
        [["../outside/secret.md"], /paths\[0\]: "\.\." is not allowed/],
        [["ok.md", "sub/../../outside"], /paths\[1\]: "\.\." is not allowed/],
        [[join(outside, "secret.md")], /paths\[0\]: .*secret\.md is outside the folders this server may ingest from/],
        [["link.md"], /paths\[0\]: link\.md leads through a symbolic link to .*outside.*secret\.md, outside the folders/],
        [[join(allowed, "outdir")], /paths\[0\]: .*outdir leads through a symbolic link/],
        [[""], /paths\[0\]: give a file or folder path inside/],
      ];
      for (const [paths, message] of refusals) {
        const result = await s.call("ingest_files", { paths });
        expect(result.isError, JSON.stringify(paths)).toBe(true);
        expect(textOf(result)).toMatch(message);
      }
      expect(ok(await s.call("embedding_status", {})).total_chunks).toBe(0);

      // The folder itself is fine; the links inside it are not followed.
      const folder = ok<Ingested>(await s.call("ingest_files", { paths: ["."] }));
      expect(folder).toMatchObject({ indexed: 1, failed: 0 });
      expect(ok(await s.call("semantic_search", { query: "not for agents", mode: "keyword" })).results).toEqual([]);
    });
  });

  it("prunes documents of deleted files on request, and can be cancelled between files", async () => {
    const allowed = tempDir();
    const many = join(allowed, "many");
    mkdirSync(many);
    for (let i = 0; i < 200; i++) writeFileSync(join(many, `note-${String(i).padStart(3, "0")}.md`), `# Note ${i}\n\n${sentences(`item${i}`, 3)}\n`);
    writeFileSync(join(allowed, "gone.md"), `# Gone\n\n${sentences("ghost", 3)}\n`);

    await withServer(["--data-dir", tempDir(), "--allow-ingest", allowed], async (s) => {
      expect(ok<Ingested>(await s.call("ingest_files", { paths: ["gone.md"] })).indexed).toBe(1);
      rmSync(join(allowed, "gone.md"));
      const pruned = ok<Ingested>(await s.call("ingest_files", { paths: [allowed], prune: true }));
      expect(pruned).toMatchObject({ indexed: 200, pruned: 1, pruned_documents: [join(allowed, "gone.md")], prune_refused: [] });

      // Cancel a run over 200 changed files as soon as the first one is done.
      for (let i = 0; i < 200; i++) writeFileSync(join(many, `note-${String(i).padStart(3, "0")}.md`), `# Note ${i} changed\n\n${sentences(`changed${i}`, 3)}\n`);
      const abort = new AbortController();
      const cancelled = s.client.callTool({ name: "ingest_files", arguments: { paths: ["many"] } }, undefined, {
        signal: abort.signal,
        onprogress: () => abort.abort(),
      });
      await expect(cancelled).rejects.toThrow();
      await expect.poll(async () => ok(await s.call("embedding_status", {})).ingest.running, { timeout: 60_000 }).toEqual([]);
      const last = ok(await s.call("embedding_status", {})).ingest.last;
      expect(last.error).toMatch(/^Cancelled after \d+ of 200 files; those are indexed, the others were not touched\.?$/);
      const done = Number(/after (\d+)/.exec(last.error)![1]);
      expect(done).toBeLessThan(200);
      // What was done is whole; the rest is simply picked up by the next call.
      const rest = ok<Ingested>(await s.call("ingest_files", { paths: ["many"] }));
      expect(rest.indexed + rest.unchanged).toBe(200);
      expect(rest.indexed).toBeGreaterThanOrEqual(200 - done);
    });
  });
});
