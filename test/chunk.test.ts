import { describe, expect, it } from "vitest";
import { DEFAULT_CHUNK_OPTIONS, chunkText } from "../src/ingest/chunk.js";

/** Deterministic prose: numbered sentences, so every piece of text is unique and findable. */
function sentences(from: number, count: number, words = 12): string {
  return Array.from({ length: count }, (_, i) => `Sentence ${from + i} ${"lorem ipsum dolor ".repeat(words / 3).trim()} ends here.`).join(" ");
}

describe("chunkText", () => {
  it("returns nothing for empty or blank text", () => {
    expect(chunkText("")).toEqual([]);
    expect(chunkText(" \n\n\t \n")).toEqual([]);
  });

  it("keeps a short document whole, without surrounding whitespace", () => {
    const chunks = chunkText("\n\n  Hello world.\n\nSecond paragraph.\n\n");
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe("Hello world.\n\nSecond paragraph.");
    expect(chunks[0]!.heading).toBeNull();
  });

  it("produces verbatim slices whose offsets point into the source", () => {
    const source = Array.from({ length: 12 }, (_, i) => sentences(i * 10, 6)).join("\n\n");
    const chunks = chunkText(source);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) expect(source.slice(chunk.start, chunk.end)).toBe(chunk.text);
  });

  it("keeps every chunk within maxChars and most near the target", () => {
    const source = Array.from({ length: 30 }, (_, i) => sentences(i * 10, 3 + (i % 5))).join("\n\n");
    const chunks = chunkText(source);
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(DEFAULT_CHUNK_OPTIONS.maxChars);
    const body = chunks.slice(0, -1);
    const average = body.reduce((n, c) => n + c.text.length, 0) / body.length;
    expect(average).toBeGreaterThan(900);
  });

  it("covers the whole text: nothing between chunks is lost", () => {
    const source = Array.from({ length: 20 }, (_, i) => sentences(i * 10, 5)).join("\n\n");
    const chunks = chunkText(source);
    expect(chunks[0]!.start).toBe(0);
    expect(chunks[chunks.length - 1]!.end).toBe(source.length);
    for (let i = 1; i < chunks.length; i++) {
      // The next chunk starts inside the previous one (overlap) or right after it, separated only by whitespace.
      const gap = source.slice(chunks[i - 1]!.end, chunks[i]!.start);
      expect(chunks[i]!.start <= chunks[i - 1]!.end || gap.trim() === "").toBe(true);
    }
  });

  it("repeats roughly 15% of a chunk at the start of the next one, at a sentence boundary", () => {
    const source = Array.from({ length: 20 }, (_, i) => sentences(i * 10, 5)).join("\n\n");
    const chunks = chunkText(source);
    let overlapped = 0;
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]!;
      const next = chunks[i]!;
      const overlap = prev.end - next.start;
      expect(overlap).toBeLessThanOrEqual(Math.floor((prev.end - prev.start) * DEFAULT_CHUNK_OPTIONS.overlap));
      if (overlap > 0) {
        overlapped++;
        expect(next.text.startsWith("Sentence ")).toBe(true);
        expect(prev.text.endsWith(source.slice(next.start, prev.end))).toBe(true);
      }
    }
    expect(overlapped).toBe(chunks.length - 1);
  });

  it("starts a new chunk at a Markdown heading, without overlap from the previous section", () => {
    const source = `# Alpha\n\n${sentences(0, 5)}\n\n## Beta\n\n${sentences(100, 5)}\n`;
    const chunks = chunkText(source);
    expect(chunks.map((c) => c.heading)).toEqual(["Alpha", "Alpha > Beta"]);
    expect(chunks[0]!.text.startsWith("# Alpha")).toBe(true);
    expect(chunks[1]!.text.startsWith("## Beta")).toBe(true);
    expect(chunks[1]!.start).toBeGreaterThanOrEqual(chunks[0]!.end);
  });

  it("recognises setext and reStructuredText underlined headings", () => {
    const source = `Install\n=======\n\n${sentences(0, 5)}\n\nUsage\n-----\n\n${sentences(50, 5)}\n`;
    const chunks = chunkText(source);
    expect(chunks.map((c) => c.heading)).toEqual(["Install", "Install > Usage"]);
    expect(chunks[1]!.text.startsWith("Usage\n-----")).toBe(true);
  });

  it("gives each chunk the path of headings above it: a heading closes its sections at the same or a deeper level", () => {
    const section = (title: string, level: number, at: number) => `${"#".repeat(level)} ${title}\n\n${sentences(at, 5)}`;
    const source = [section("Install", 1, 0), section("Linux", 2, 10), section("Debian", 3, 20), section("macOS", 2, 30), section("Usage", 1, 40)].join("\n\n");
    expect(chunkText(source).map((c) => c.heading)).toEqual(["Install", "Install > Linux", "Install > Linux > Debian", "Install > macOS", "Usage"]);
  });

  it("ranks reStructuredText underline characters in the order the document first uses them, after = and -", () => {
    const section = (title: string, char: string, at: number) => `${title}\n${char.repeat(title.length)}\n\n${sentences(at, 5)}`;
    const source = [section("Guide", "=", 0), section("Setup", "-", 10), section("Details", "~", 20), section("More", "^", 30), section("Other", "~", 40)].join("\n\n");
    expect(chunkText(source).map((c) => c.heading)).toEqual(["Guide", "Guide > Setup", "Guide > Setup > Details", "Guide > Setup > Details > More", "Guide > Setup > Other"]);
  });

  it("lets short sections share a chunk instead of making tiny chunks", () => {
    const source = ["# A", "one.", "# B", "two.", "# C", "three."].join("\n\n");
    const chunks = chunkText(source);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.heading).toBe("A");
  });

  it("never ends a chunk on a heading: the heading moves to the text it titles", () => {
    // The filler plus the heading just passes the target, so the chunk would close right after the heading.
    const filler = "Some words here. ".repeat(70).trim();
    expect(filler.length).toBeLessThan(DEFAULT_CHUNK_OPTIONS.targetChars);
    expect(filler.length + 17).toBeGreaterThanOrEqual(DEFAULT_CHUNK_OPTIONS.targetChars);
    const source = `${filler}\n\n## Tail heading\n\n${sentences(200, 4)}`;
    const chunks = chunkText(source, { minCharsBeforeHeading: 100_000 });
    for (const chunk of chunks.slice(0, -1)) expect(chunk.text.trimEnd().endsWith("## Tail heading")).toBe(false);
    expect(chunks.some((c) => c.text.startsWith("## Tail heading"))).toBe(true);
  });

  it("splits a paragraph longer than a chunk at sentence ends", () => {
    const source = sentences(0, 40);
    const chunks = chunkText(source);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) {
      expect(chunk.text.startsWith("Sentence ")).toBe(true);
      expect(chunk.text.endsWith("ends here.")).toBe(true);
    }
  });

  it("falls back to word boundaries, then hard cuts, for text without sentences or spaces", () => {
    const words = Array.from({ length: 800 }, (_, i) => `word${i}`).join(" ");
    for (const chunk of chunkText(words)) {
      expect(chunk.text.length).toBeLessThanOrEqual(DEFAULT_CHUNK_OPTIONS.maxChars);
      expect(chunk.text).toMatch(/^word\d+/);
      expect(chunk.text).toMatch(/word\d+$/);
    }
    const blob = "x".repeat(5000);
    const pieces = chunkText(blob);
    expect(pieces.length).toBeGreaterThan(3);
    for (const piece of pieces) expect(piece.text.length).toBeLessThanOrEqual(DEFAULT_CHUNK_OPTIONS.maxChars);
  });

  it("does not split a surrogate pair on a hard cut", () => {
    const source = "😀".repeat(2000);
    for (const chunk of chunkText(source)) {
      expect(chunk.text.length % 2).toBe(0);
      expect(chunk.text.startsWith("😀")).toBe(true);
    }
  });

  it("handles CRLF line endings", () => {
    const source = `# Title\r\n\r\nFirst paragraph.\r\n\r\nSecond paragraph.\r\n`;
    const chunks = chunkText(source);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.heading).toBe("Title");
    expect(chunks[0]!.text).toBe("# Title\r\n\r\nFirst paragraph.\r\n\r\nSecond paragraph.");
  });

  it("is deterministic", () => {
    const source = Array.from({ length: 10 }, (_, i) => `## Part ${i}\n\n${sentences(i * 10, 4)}`).join("\n\n");
    expect(chunkText(source)).toEqual(chunkText(source));
  });

  it("rejects nonsensical options", () => {
    expect(() => chunkText("x", { targetChars: 2000, maxChars: 1000 })).toThrow(RangeError);
    expect(() => chunkText("x", { overlap: 0.9 })).toThrow(RangeError);
  });
});
