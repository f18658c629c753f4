import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { HashEmbedder } from "../src/embed/hash.js";
import { Store, type ChunkView } from "../src/store/store.js";
import { writeDocx, writePdf, writeScannedPdf } from "./fixtures/documents.js";
import { assertBuilt, runCli } from "./helpers/cli.js";
import { generations } from "./helpers/damage.js";
import { useTempDirs } from "./helpers/tmp.js";

const EMBEDDER = "hash:384";
const tempDir = useTempDirs();

beforeAll(assertBuilt);

function sentences(topic: string, count: number): string {
  return Array.from({ length: count }, (_, i) => `The ${topic} remark ${i} explains one more thing about ${topic}s in plain words.`).join(" ");
}

/** Functions enough to make several chunks, each with a comment line above it. */
function code(count: number, make: (n: number) => string): string {
  return Array.from({ length: count }, (_, n) => make(n)).join("\n\n") + "\n";
}

const CODE_FILES: Record<string, string> = {
  "app.ts": code(40, (n) => `// Handler ${n}.\nexport function handle${n}(request: Request): Response {\n  return respond(request, ${n});\n}`),
  "tool.py": code(40, (n) => `# Handler ${n}.\ndef handle_${n}(request):\n    return respond(request, ${n})`),
  "main.go": `package main\n\n${code(40, (n) => `// Handle${n} handles.\nfunc Handle${n}(r *Request) *Response {\n\treturn respond(r, ${n})\n}`)}`,
  "lib.rs": code(40, (n) => `/// Handler ${n}.\npub fn handle_${n}(request: &Request) -> Response {\n    respond(request, ${n})\n}`),
  "Main.java": `public class Main {\n${code(40, (n) => `    // Handler ${n}.\n    static Response handle${n}(Request request) {\n        return respond(request, ${n});\n    }`)}}\n`,
  "util.c": code(40, (n) => `/* Handler ${n}. */\nint handle_${n}(struct request *r) {\n  return respond(r, ${n});\n}`),
  "shape.cpp": code(40, (n) => `// Handler ${n}.\nint Shape::handle${n}(const Request& r) {\n  return respond(r, ${n});\n}`),
  "task.rb": code(40, (n) => `# Handler ${n}.\ndef handle_${n}(request)\n  respond(request, ${n})\nend`),
  "build.sh": `#!/bin/sh\n${code(40, (n) => `# Step ${n}.\nstep_${n}() {\n  echo "step ${n}"\n}`)}`,
};

function openCliStore(dataDir: string): Promise<Store> {
  return Store.open({ dataDir, embedder: new HashEmbedder(384), background: false });
}

describe("retrieval-mcp ingest: formats and citations", () => {
  it("ingests every format from a folder, citing each chunk's source, lines or page and heading path", async () => {
    const dataDir = tempDir();
    const docs = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    const path = (name: string) => join(docs, name);
    writeFileSync(path("guide.md"), `# Guide\n\n${sentences("intro", 8)}\n\n## Install\n\n${sentences("setup", 6)}\n\n### Linux\n\n${sentences("kernel", 12)}\n`);
    writeFileSync(path("notes.rst"), `Notes\n=====\n\n${sentences("memo", 8)}\n\nDetails\n-------\n\n${sentences("detail", 8)}\n`);
    writeFileSync(path("latin.txt"), Buffer.from(`Résumé du café crème.\n\n${sentences("façade", 4)}\n`, "latin1"));
    writeFileSync(path("wide.txt"), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`Wide text, naïve and wide.\n\n${sentences("widget", 4)}\n`, "utf16le")]));
    for (const [name, source] of Object.entries(CODE_FILES)) writeFileSync(path(name), source);
    writeFileSync(
      path("page.html"),
      `<html><head><title>Handbook</title><script>var navword = 1;</script></head><body><nav>navword menu</nav>` +
        `<main><h1>Handbook</h1><p>${sentences("lantern", 6)}</p><h2>Care</h2><p>${sentences("polish", 6)}</p></main><footer>navword footer</footer></body></html>`,
    );
    await writeDocx(path("manual.docx"), [
      { heading: "Install", level: 1 },
      { paragraph: sentences("download", 6) },
      { heading: "Linux", level: 2 },
      { paragraph: sentences("package", 8) },
    ]);
    await writePdf(path("report.pdf"), [
      [sentences("firstpage", 10)],
      [sentences("secondpage", 10)],
    ]);
    await writeScannedPdf(path("scan.pdf"), 2);
    writeFileSync(path("photo.md"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a, 0x0a, 0x00, 0x01]));

    const first = await runCli(["ingest", docs, ...common]);
    expect(first.stderr).toContain(`skipped ${path("scan.pdf")}: no extractable text on its 2 page(s): a scanned PDF needs OCR first`);
    expect(first.stderr).toContain(`skipped ${path("photo.md")}: binary file`);
    const indexed = 4 + Object.keys(CODE_FILES).length + 3;
    expect(first.stdout).toMatch(new RegExp(`^Files: ${indexed} indexed, 2 skipped \\(0 unchanged\\), 0 failed\\. Chunks: \\d+ written, 0 removed\\.`));
    expect(first.code).toBe(0);

    const store = await openCliStore(dataDir);
    try {
      const chunks = async (name: string): Promise<ChunkView[]> => store.documentChunks(path(name), "default");
      for (const name of ["guide.md", "notes.rst", "latin.txt", "wide.txt", ...Object.keys(CODE_FILES)]) {
        const lines = readFileSync(path(name), name === "latin.txt" ? "latin1" : name === "wide.txt" ? "utf16le" : "utf8").replace(/^\ufeff/, "").split("\n");
        const stored = await chunks(name);
        expect(stored.length, name).toBeGreaterThan(0);
        for (const chunk of stored) {
          const m = chunk.metadata as Record<string, any>;
          expect(m).toMatchObject({ source: path(name), format: name.endsWith(".txt") || name.endsWith(".md") || name.endsWith(".rst") ? "text" : "code", chunk_count: stored.length });
          expect(lines.slice(m.line_start - 1, m.line_end).join("\n"), `${name} ${m.line_start}-${m.line_end}`).toContain(chunk.text);
          expect(m.page).toBeUndefined();
        }
        if (name in CODE_FILES) {
          // Several chunks, each starting on a whole line.
          expect(stored.length, name).toBeGreaterThan(1);
          for (const chunk of stored) expect(lines[(chunk.metadata.line_start as number) - 1]!.trimStart()).toBe(chunk.text.split("\n")[0]!.trimStart());
        }
      }
      expect((await chunks("guide.md")).map((c) => c.metadata.heading)).toEqual(expect.arrayContaining(["Guide", "Guide > Install", "Guide > Install > Linux"]));
      expect((await chunks("notes.rst")).map((c) => c.metadata.heading)).toEqual(expect.arrayContaining(["Notes", "Notes > Details"]));
      expect((await chunks("latin.txt"))[0]!.text.startsWith("Résumé du café crème.")).toBe(true);
      expect((await chunks("wide.txt"))[0]!.text.startsWith("Wide text, naïve and wide.")).toBe(true);
      for (const chunk of await chunks("app.ts")) expect(chunk.metadata.heading).toMatch(/^export function handle\d+\(request: Request\): Response$/);

      const pdf = await chunks("report.pdf");
      expect(pdf.map((c) => c.metadata.page)).toEqual(expect.arrayContaining([1, 2]));
      for (const chunk of pdf) {
        expect(chunk.metadata).toMatchObject({ source: path("report.pdf"), format: "pdf" });
        expect(chunk.metadata.line_start).toBeUndefined();
        expect(chunk.text.includes(chunk.metadata.page === 1 ? "firstpage" : "secondpage")).toBe(true);
      }
      expect((await chunks("manual.docx")).map((c) => c.metadata.heading)).toEqual(expect.arrayContaining(["Install", "Install > Linux"]));
      const html = await chunks("page.html");
      expect(html.map((c) => c.metadata.heading)).toEqual(expect.arrayContaining(["Handbook", "Handbook > Care"]));
      expect(html.some((c) => c.text.includes("navword"))).toBe(false);
      expect(await chunks("scan.pdf")).toEqual([]);
    } finally {
      await store.close();
    }

    // A hit says where it came from.
    const hit = await runCli(["search", "secondpage remark", "-k", "1", "--mode", "keyword", ...common]);
    expect(hit.stdout).toMatch(new RegExp(`report\\.pdf#\\d+ {2}\\(page 2\\)`));
    const code = await runCli(["search", "respond request", "-k", "1", "--mode", "keyword", ...common]);
    expect(code.stdout).toMatch(/#\d+ {2}\(lines \d+-\d+, § .+\)\n/);

    // Unchanged files cost no embedding; one touched but equal is recognised by its hash.
    const before = generations(dataDir);
    utimesSync(path("guide.md"), new Date(), new Date(Date.now() + 5000));
    const again = await runCli(["ingest", docs, ...common]);
    expect(again.stdout).toMatch(new RegExp(`^Files: 0 indexed, ${indexed + 2} skipped \\(${indexed} unchanged\\), 0 failed\\. Chunks: 0 written, 0 removed\\.`));
    expect(generations(dataDir)).toEqual(before);
  });
});

describe("retrieval-mcp ingest --prune", () => {
  it("removes the documents of files deleted under the folder, and nothing ingested elsewhere or indexed by hand", async () => {
    const dataDir = tempDir();
    const base = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    const docs = join(base, "docs");
    const other = join(base, "docs-other");
    mkdirSync(join(docs, "sub"), { recursive: true });
    mkdirSync(other);
    for (const [file, topic] of [
      [join(docs, "a.md"), "anchor"],
      [join(docs, "sub", "b.md"), "buoy"],
      [join(docs, "c.md"), "compass"],
      [join(other, "d.md"), "dock"],
    ] as const) {
      writeFileSync(file, `# ${topic}\n\n${sentences(topic, 3)}\n`);
    }
    expect((await runCli(["ingest", docs, other, ...common])).code).toBe(0);
    const manual = join(docs, "never-a-file.md");
    const store = await openCliStore(dataDir);
    await store.index({ chunk_id: "by-hand", doc_id: manual, text: "indexed by an agent, not from a file" });
    await store.close();

    rmSync(join(docs, "a.md"));
    rmSync(join(docs, "sub"), { recursive: true });
    const pruned = await runCli(["ingest", docs, "--prune", ...common]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/^Files: 0 indexed, 1 skipped \(1 unchanged\), 0 failed, 2 pruned\. Chunks: 0 written, 2 removed\./);
    expect(pruned.stderr).toContain(`pruned ${join(docs, "a.md")} (file deleted)`);

    const after = await openCliStore(dataDir);
    try {
      expect((await after.documentIds("default", `${base}/`)).sort()).toEqual([join(docs, "c.md"), manual, join(other, "d.md")].sort());
      expect((await after.status()).counts.tombstone).toBe(0);
    } finally {
      await after.close();
    }
  });

  it("removes nothing under a folder that is missing or empty, and says so", async () => {
    const dataDir = tempDir();
    const base = tempDir();
    const common = ["--data-dir", dataDir, "--embedder", EMBEDDER];
    const mount = join(base, "mnt");
    const gone = join(base, "gone");
    mkdirSync(mount);
    mkdirSync(gone);
    writeFileSync(join(mount, "m.md"), `# Mounted\n\n${sentences("disk", 3)}\n`);
    writeFileSync(join(gone, "g.md"), `# Gone\n\n${sentences("share", 3)}\n`);
    expect((await runCli(["ingest", mount, gone, ...common])).code).toBe(0);
    const before = generations(dataDir);

    // An unmounted disk leaves an empty mount point; a share that is down, no folder at all.
    rmSync(join(mount, "m.md"));
    rmSync(gone, { recursive: true });
    const refused = await runCli(["ingest", mount, gone, "--prune", ...common]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`not pruning under ${mount}: it is empty while documents were ingested from it (an unmounted disk?)`);
    expect(refused.stderr).toContain(`not pruning under ${gone}: it does not exist (an unmounted disk?). Nothing there was removed.`);
    expect(refused.stdout).toMatch(/, 0 pruned\. Chunks: 0 written, 0 removed\./);
    expect(generations(dataDir)).toEqual(before);

    // From the parent, which is there and not empty, the evidence is clear.
    const fromParent = await runCli(["ingest", base, "--prune", ...common]);
    expect(fromParent.code).toBe(0);
    expect(fromParent.stdout).toMatch(/, 2 pruned\./);
    expect(generations(dataDir).size).toBe(0);
  });
});
