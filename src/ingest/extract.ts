import { chunkText, type ChunkOptions, type TextChunk } from "./chunk.js";
import { chunkCode } from "./code-chunk.js";
import { decodeText } from "./decode.js";
import { docxText } from "./docx.js";
import type { FileKind } from "./formats.js";
import { htmlToText } from "./html.js";
import { pdfText } from "./pdf.js";

/** A chunk and where it came from: lines (1-based, inclusive) for text and code, the page it starts on for PDF. */
export interface CitedChunk {
  text: string;
  heading: string | null;
  lineStart?: number;
  lineEnd?: number;
  page?: number;
}

export type Extraction = { kind: "chunks"; chunks: CitedChunk[] } | { kind: "skipped"; reason: string } | { kind: "failed"; reason: string };

const NOT_TEXT = "binary file (not text in UTF-8, UTF-16 or Latin-1)";

/** Reads a file's bytes as its format says and chunks the text, with each chunk's citation. */
export async function extract(bytes: Uint8Array, kind: FileKind, chunking?: Partial<ChunkOptions>): Promise<Extraction> {
  switch (kind.format) {
    case "text":
    case "code": {
      const decoded = decodeText(bytes);
      if (decoded.kind === "binary") return { kind: "skipped", reason: NOT_TEXT };
      const chunks = kind.format === "code" ? await chunkCode(decoded.text, kind.grammar, chunking) : chunkText(decoded.text, chunking);
      return { kind: "chunks", chunks: withLines(decoded.text, chunks) };
    }
    case "html": {
      const decoded = decodeText(bytes);
      if (decoded.kind === "binary") return { kind: "skipped", reason: NOT_TEXT };
      return { kind: "chunks", chunks: chunkText(htmlToText(decoded.text, { mainContent: true }), chunking).map(uncited) };
    }
    case "docx": {
      try {
        return { kind: "chunks", chunks: chunkText(await docxText(bytes), chunking).map(uncited) };
      } catch (error) {
        return { kind: "failed", reason: `not a readable Word (.docx) document: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    case "pdf":
      return pdfChunks(bytes, chunking);
  }
}

function uncited(chunk: TextChunk): CitedChunk {
  return { text: chunk.text, heading: chunk.heading };
}

/** 1-based first and last line of each chunk, from its offsets. */
function withLines(source: string, chunks: readonly TextChunk[]): CitedChunk[] {
  const breaks: number[] = [];
  for (let at = source.indexOf("\n"); at !== -1; at = source.indexOf("\n", at + 1)) breaks.push(at);
  const lineOf = (offset: number): number => 1 + countBelow(breaks, offset);
  return chunks.map((chunk) => ({ ...uncited(chunk), lineStart: lineOf(chunk.start), lineEnd: lineOf(Math.max(chunk.start, chunk.end - 1)) }));
}

/**
 * Pages are joined with a blank line between them, and each opens a new
 * chunk unless the one before is still short: a chunk's page is where its
 * text is, not where the overlap repeated from the previous chunk began.
 */
const PAGE_BREAK = "\n\n";

async function pdfChunks(bytes: Uint8Array, chunking?: Partial<ChunkOptions>): Promise<Extraction> {
  const read = await pdfText(bytes);
  if (read.kind === "unreadable") return { kind: "failed", reason: read.reason };
  if (read.pages.every((page) => page.trim() === "")) {
    return { kind: "skipped", reason: `no extractable text on its ${read.pages.length} page(s): a scanned PDF needs OCR first` };
  }
  const starts: number[] = [];
  let text = "";
  for (const page of read.pages) {
    if (text !== "") text += PAGE_BREAK;
    starts.push(text.length);
    text += page;
  }
  // The page a chunk starts on is the last one starting at or before its first character.
  return { kind: "chunks", chunks: chunkText(text, chunking, starts).map((chunk) => ({ ...uncited(chunk), page: countBelow(starts, chunk.start + 1) })) };
}

/** How many of the ascending `sorted` are below `value`. */
function countBelow(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
