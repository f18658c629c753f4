import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeText } from "../src/ingest/decode.js";
import { extract, type CitedChunk } from "../src/ingest/extract.js";
import { fileKind } from "../src/ingest/formats.js";
import { writeDocx, writePdf, writeScannedPdf } from "./fixtures/documents.js";
import { useTempDirs } from "./helpers/tmp.js";

const tempDir = useTempDirs();
const SMALL = { targetChars: 240, maxChars: 320, minCharsBeforeHeading: 60 };

function sentences(topic: string, count: number): string {
  return Array.from({ length: count }, (_, i) => `The ${topic} note number ${i} says something plain about ${topic}s.`).join(" ");
}

async function chunksOf(path: string, options = SMALL): Promise<CitedChunk[]> {
  const result = await extract(readFileSync(path), fileKind(path, true)!, options);
  if (result.kind !== "chunks") throw new Error(`${path}: ${result.kind}: ${result.reason}`);
  return result.chunks;
}

describe("decoding text files", () => {
  const latin1 = Buffer.from("Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade.\n", "latin1");
  const text = "Café crème brûlée, naïve façade.\n";

  it.each([
    ["UTF-8", Buffer.from(text, "utf8"), "utf-8"],
    ["UTF-8 with a byte-order mark", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]), "utf-8"],
    ["UTF-16LE with a byte-order mark", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]), "utf-16le"],
    ["UTF-16BE with a byte-order mark", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]), "utf-16be"],
    ["UTF-16LE without a byte-order mark", Buffer.from(text.repeat(20), "utf16le"), "utf-16le"],
    ["UTF-16BE without a byte-order mark", Buffer.from(text.repeat(20), "utf16le").swap16(), "utf-16be"],
    ["Latin-1", latin1, "windows-1252"],
  ])("reads %s as the text it holds", (_name, bytes, encoding) => {
    const decoded = decodeText(bytes);
    expect(decoded).toMatchObject({ kind: "text", encoding });
    expect(decoded.kind === "text" && decoded.text.startsWith(text)).toBe(true);
  });

  it("reads Windows-1252 punctuation, not C1 control characters", () => {
    expect(decodeText(Buffer.from([0x93, 0x71, 0x75, 0x6f, 0x74, 0x65, 0x64, 0x94, 0x20, 0x96, 0x20, 0x80, 0x35]))).toMatchObject({ kind: "text", text: "\u201cquoted\u201d \u2013 \u20ac5" });
  });

  it("calls bytes binary when they hold NULs at both parities or control characters, whatever the extension", () => {
    let seed = 7;
    const random = Buffer.from(Array.from({ length: 4096 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >> 16) & 0xff));
    expect(decodeText(random)).toEqual({ kind: "binary" });
    expect(decodeText(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]))).toEqual({ kind: "binary" });
    expect(decodeText(Buffer.from(Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? 0x01 : 0xe9))))).toEqual({ kind: "binary" });
  });

  it("keeps valid UTF-8 as text even with terminal escapes in it, as before", () => {
    const log = "\u001b[31merror\u001b[0m the cache failed\n".repeat(5);
    expect(decodeText(Buffer.from(log))).toMatchObject({ kind: "text", text: log });
  });
});

describe("citations of text and code", () => {
  it("gives every chunk the 1-based lines it spans, so the passage can be found in the file as it is", async () => {
    const dir = tempDir();
    const path = join(dir, "guide.md");
    const source = `# Guide\n\n${sentences("intro", 4)}\n\n## Install\n\n${sentences("setup", 3)}\n\n### Linux\n\n${sentences("kernel", 6)}\n\n## Usage\n\n${sentences("usage", 3)}\n`;
    writeFileSync(path, source);
    const lines = source.split("\n");
    const chunks = await chunksOf(path);
    expect(chunks.length).toBeGreaterThan(4);
    for (const chunk of chunks) {
      const span = lines.slice(chunk.lineStart! - 1, chunk.lineEnd!).join("\n");
      const own = chunk.text.split("\n");
      expect(span.includes(chunk.text), `${chunk.lineStart}-${chunk.lineEnd}`).toBe(true);
      expect(lines[chunk.lineStart! - 1]!.includes(own[0]!)).toBe(true);
      expect(lines[chunk.lineEnd! - 1]!.includes(own[own.length - 1]!)).toBe(true);
      expect(chunk.page).toBeUndefined();
    }
    expect(chunks.map((c) => c.heading)).toEqual(expect.arrayContaining(["Guide", "Guide > Install", "Guide > Install > Linux", "Guide > Usage"]));
  });

  it("numbers lines of Latin-1 and UTF-16 files as they read, not as their bytes", async () => {
    const dir = tempDir();
    const body = ["Première ligne.", "", "Deuxième ligne, café.", "", "Troisième."].join("\r\n");
    const latin = join(dir, "notes.txt");
    const utf16 = join(dir, "wide.txt");
    writeFileSync(latin, Buffer.from(body, "latin1"));
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, "utf16le")]));
    for (const path of [latin, utf16]) {
      const [chunk, ...rest] = await chunksOf(path, { targetChars: 1200, maxChars: 1500, minCharsBeforeHeading: 300 });
      expect(rest).toEqual([]);
      expect(chunk).toMatchObject({ text: body, lineStart: 1, lineEnd: 5 });
    }
  });
});

describe("documents", () => {
  it("PDF: text per page, each chunk citing the page it starts on", async () => {
    const path = join(tempDir(), "report.pdf");
    const pages = [1, 2, 3].map((n) => [`Page${n}marker opens the page.`, sentences(`page${n}topic`, 5), sentences(`page${n}detail`, 4)]);
    await writePdf(path, pages);
    const chunks = await chunksOf(path);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      const onPage = chunk.text.match(/page(\d)(topic|detail|marker)/i);
      expect(onPage, chunk.text).not.toBeNull();
      expect(chunk.page).toBe(Number(onPage![1]));
      expect(chunk.lineStart).toBeUndefined();
    }
    for (const n of [1, 2, 3]) expect(chunks.some((c) => c.page === n && c.text.includes(`Page${n}marker opens the page.`))).toBe(true);
    // Words keep their spaces and paragraphs their breaks.
    expect(chunks.map((c) => c.text).join("\n")).toContain("The page2topic note number 4 says something plain about page2topics.");
  });

  it("PDF: a scanned document (pages without text) is skipped with that reason; a broken one fails", async () => {
    const dir = tempDir();
    const scanned = join(dir, "scan.pdf");
    await writeScannedPdf(scanned, 2);
    expect(await extract(readFileSync(scanned), fileKind(scanned, false)!)).toEqual({
      kind: "skipped",
      reason: "no extractable text on its 2 page(s): a scanned PDF needs OCR first",
    });
    expect(await extract(Buffer.from("%PDF-1.7\nnot really a pdf at all\n"), fileKind(scanned, false)!)).toMatchObject({ kind: "failed", reason: expect.stringMatching(/^not a valid PDF file/) });
  });

  it("DOCX: text with its headings kept as a heading path", async () => {
    const path = join(tempDir(), "manual.docx");
    await writeDocx(path, [
      { heading: "Install", level: 1 },
      { paragraph: sentences("download", 4) },
      { heading: "Linux", level: 2 },
      { bullet: "apt-get install lighthouse" },
      { paragraph: sentences("package", 4) },
      { heading: "Windows", level: 2 },
      { paragraph: sentences("installer", 4) },
      { heading: "Usage", level: 1 },
      { paragraph: sentences("command", 4) },
    ]);
    const chunks = await chunksOf(path);
    const headingOf = (word: string) => chunks.find((c) => c.text.includes(word))?.heading;
    expect(headingOf("downloads")).toBe("Install");
    expect(headingOf("packages")).toBe("Install > Linux");
    expect(headingOf("- apt-get install lighthouse")).toBe("Install > Linux");
    expect(headingOf("installers")).toBe("Install > Windows");
    expect(headingOf("commands")).toBe("Usage");
    expect(chunks.find((c) => c.text.includes("apt-get"))!.text.startsWith("## Linux\n\n- apt-get install lighthouse")).toBe(true);
    expect(await extract(Buffer.from("PK\u0003\u0004 not a zip"), fileKind(path, false)!)).toMatchObject({ kind: "failed", reason: expect.stringMatching(/^not a readable Word/) });
  });

  it("HTML: the main content with its headings, without navigation, scripts, styles, sidebars or footers", async () => {
    const path = join(tempDir(), "page.html");
    const html = `<!doctype html><html><head><title>Lighthouse handbook</title><style>.x { color: red }</style>
      <script>var tracking = "scriptword";</script></head><body>
      <nav><a href="/">navword home</a> <a href="/a">navword about</a></nav>
      <header class="site"><div class="logo">bannerword</div></header>
      <main><h1>Lighthouse handbook</h1><p>${sentences("beacon", 4)}</p>
      <h2>Install</h2><p>${sentences("lamp", 4)} Use <code>apt-get</code> &amp; friends.</p>
      <h3>Linux</h3><ul><li>${sentences("kernel", 3)}</li><li>second item</li></ul>
      <table><tr><th>Model</th><th>Range</th></tr><tr><td>L-100</td><td>20 nm</td></tr></table></main>
      <aside class="sidebar">asideword related links</aside><footer>footerword copyright</footer>
      <script>document.write("scriptword")</script></body></html>`;
    writeFileSync(path, html);
    const chunks = await chunksOf(path);
    const all = chunks.map((c) => c.text).join("\n");
    for (const noise of ["navword", "bannerword", "scriptword", "asideword", "footerword", "color: red"]) expect(all).not.toContain(noise);
    expect(all).toContain("Use apt-get & friends.");
    expect(all).toContain("Model | Range\nL-100 | 20 nm");
    expect(chunks[0]!.text.startsWith("# Lighthouse handbook")).toBe(true);
    const headingOf = (word: string) => chunks.find((c) => c.text.includes(word))?.heading;
    expect(headingOf("beacons")).toBe("Lighthouse handbook");
    expect(headingOf("lamps")).toBe("Lighthouse handbook > Install");
    expect(headingOf("kernels")).toBe("Lighthouse handbook > Install > Linux");
    expect(chunks.every((c) => c.lineStart === undefined)).toBe(true);
  });
});
