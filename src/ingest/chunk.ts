/** One piece of a document: a verbatim slice of the source text. */
export interface TextChunk {
  text: string;
  /** Offsets into the source, `end` exclusive. */
  start: number;
  end: number;
  /**
   * The headings above the chunk's first new text, outermost first, joined
   * with " > " (e.g. "Install > Linux"); null before any heading.
   */
  heading: string | null;
}

export interface ChunkOptions {
  /** A chunk stops growing once it reaches this many characters. */
  targetChars: number;
  /** No chunk is longer than this. */
  maxChars: number;
  /** Share of a chunk repeated at the start of the next one. */
  overlap: number;
  /** A heading starts a new chunk once the current one holds at least this much. */
  minCharsBeforeHeading: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = {
  targetChars: 1200,
  maxChars: 1500,
  overlap: 0.15,
  minCharsBeforeHeading: 300,
};

interface Unit {
  start: number;
  end: number;
  heading: string | null;
  isHeading: boolean;
}

const ATX_HEADING = /^ {0,3}#{1,6}(?:[ \t]+|$)/;
// Setext (Markdown) and reStructuredText section underlines.
const UNDERLINE = /^ {0,3}([=\-~^*+#"'`:.])\1{2,}[ \t]*$/;
const SENTENCE_END = /[.!?\u3002\uff01\uff1f]["')\]\u201d\u2019]*\s+/g;
const SPACE = /\s/;

/**
 * Splits a text or Markdown/reStructuredText document into overlapping chunks
 * that break at headings and paragraphs where possible, then at sentences,
 * then at words. Chunks are verbatim slices, so a search hit can be found in
 * the file as it is. `sectionStarts` are offsets of paragraphs that open a
 * section the way a heading does (a PDF's pages): no overlap reaches back
 * across them.
 */
export function chunkText(source: string, options: Partial<ChunkOptions> = {}, sectionStarts: readonly number[] = []): TextChunk[] {
  const o = { ...DEFAULT_CHUNK_OPTIONS, ...options };
  if (!(o.maxChars >= o.targetChars && o.targetChars > 0 && o.overlap >= 0 && o.overlap < 0.5)) {
    throw new RangeError("chunk options need 0 < targetChars <= maxChars and 0 <= overlap < 0.5");
  }
  const units = toUnits(source, o.targetChars);
  const opening = new Set(sectionStarts);
  const chunks: TextChunk[] = [];
  // The chunk being built: [start, end) plus where its new (non-overlap) text begins.
  let start = -1;
  let end = -1;
  let fresh: Unit[] = [];

  const close = (withOverlap: boolean): void => {
    if (fresh.length === 0) return;
    chunks.push({ text: source.slice(start, end), start, end, heading: fresh[0]!.heading });
    const next = withOverlap ? overlapStart(source, start, end, Math.floor((end - start) * o.overlap)) : null;
    start = next ?? -1;
    end = next === null ? -1 : end;
    fresh = [];
  };

  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    const freshChars = fresh.length > 0 ? end - fresh[0]!.start : 0;
    if ((unit.isHeading || opening.has(unit.start)) && freshChars >= o.minCharsBeforeHeading) {
      // A new section starts clean: text from the previous section would only blur it.
      close(false);
    } else if (freshChars >= o.targetChars || (fresh.length > 0 && unit.end - start > o.maxChars)) {
      // A heading must lead the text it titles, not trail at the end of a chunk.
      const last = fresh[fresh.length - 1]!;
      if (last.isHeading && fresh.length > 1) {
        fresh.pop();
        end = fresh[fresh.length - 1]!.end;
        close(false);
        i -= 2;
        continue;
      }
      close(true);
    }
    if (start !== -1 && unit.end - start > o.maxChars) start = -1;
    if (start === -1) start = unit.start;
    end = unit.end;
    fresh.push(unit);
  }
  close(false);
  return chunks;
}

/** Separates the levels of a heading path. */
export const HEADING_PATH_SEPARATOR = " > ";
/** Long enough for any real title; keeps a path of six levels well inside a metadata string's 8 KiB. */
const MAX_TITLE_CHARS = 200;

/**
 * The open sections at a point of the document. ATX headings say their
 * level; underlined ones get '=' as level 1 and '-' as level 2 (Markdown's
 * setext rule, also the usual reStructuredText order), and any other
 * underline character the next level down in order of first use, as
 * reStructuredText assigns them.
 */
class HeadingPath {
  private readonly open: { level: number; title: string }[] = [];
  private readonly underlineLevels = new Map<string, number>([
    ["=", 1],
    ["-", 2],
  ]);

  enter(level: number, title: string): void {
    while (this.open.length > 0 && this.open[this.open.length - 1]!.level >= level) this.open.pop();
    this.open.push({ level, title: title.length > MAX_TITLE_CHARS ? `${title.slice(0, MAX_TITLE_CHARS - 1)}…` : title });
  }

  underlineLevel(char: string): number {
    let level = this.underlineLevels.get(char);
    if (level === undefined) {
      level = Math.max(...this.underlineLevels.values()) + 1;
      this.underlineLevels.set(char, level);
    }
    return level;
  }

  get path(): string | null {
    return this.open.length === 0 ? null : this.open.map((h) => h.title).join(HEADING_PATH_SEPARATOR);
  }
}

/** Headings, paragraphs, and pieces of paragraphs too long for one chunk; whitespace around them excluded. */
function toUnits(source: string, target: number): Unit[] {
  const units: Unit[] = [];
  const headings = new HeadingPath();
  let heading: string | null = null;
  const lines = splitLines(source);
  let para: { start: number; end: number } | null = null;
  const flush = (): void => {
    if (para) units.push(...splitLong(source, para.start, para.end, target, heading));
    para = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const text = source.slice(line.start, line.end);
    const next = lines[i + 1];
    const nextText = next ? source.slice(next.start, next.end) : "";
    if (text.trim() === "") {
      flush();
      continue;
    }
    const underlined = next !== undefined && UNDERLINE.test(nextText) && !UNDERLINE.test(text) && para === null;
    // An overlong "heading" is a paragraph that happens to start with '#'; it must still be split.
    if ((ATX_HEADING.test(text) || underlined) && text.length <= target) {
      flush();
      const headingEnd = underlined ? next!.end : line.end;
      const title = text.replace(ATX_HEADING, "").replace(/[ \t]#+[ \t]*$/, "").trim();
      if (title) {
        headings.enter(underlined ? headings.underlineLevel(nextText.trim()[0]!) : text.trimStart().match(/^#+/)![0].length, title);
        heading = headings.path;
      }
      units.push({ ...trimmed(source, line.start, headingEnd), heading, isHeading: true });
      if (underlined) i++;
      continue;
    }
    para = para ? { start: para.start, end: line.end } : { start: line.start, end: line.end };
  }
  flush();
  return units;
}

/** The lines of a text as offsets, line breaks (\n or \r\n) excluded; a final line break opens no empty line. */
export function splitLines(source: string): { start: number; end: number }[] {
  const lines: { start: number; end: number }[] = [];
  let start = 0;
  for (;;) {
    const nl = source.indexOf("\n", start);
    if (nl === -1) {
      if (start < source.length) lines.push({ start, end: source.length });
      return lines;
    }
    lines.push({ start, end: nl > start && source[nl - 1] === "\r" ? nl - 1 : nl });
    start = nl + 1;
  }
}

function trimmed(source: string, start: number, end: number): { start: number; end: number } {
  while (start < end && SPACE.test(source[start]!)) start++;
  while (end > start && SPACE.test(source[end - 1]!)) end--;
  return { start, end };
}

/** Cuts a paragraph longer than `target` at sentence ends, then at spaces, then anywhere. */
function splitLong(source: string, from: number, to: number, target: number, heading: string | null): Unit[] {
  const { start, end } = trimmed(source, from, to);
  if (start >= end) return [];
  if (end - start <= target) return [{ start, end, heading, isHeading: false }];
  const pieces: Unit[] = [];
  let pieceStart = start;
  while (end - pieceStart > target) {
    const limit = pieceStart + target;
    const cut = lastBoundary(sentenceStarts(source, pieceStart, limit), pieceStart) ?? lastBoundary(wordStarts(source, pieceStart, limit), pieceStart) ?? safeCut(source, limit);
    pieces.push({ ...trimmed(source, pieceStart, cut), heading, isHeading: false });
    pieceStart = trimmed(source, cut, end).start;
  }
  if (pieceStart < end) pieces.push({ start: pieceStart, end, heading, isHeading: false });
  return pieces;
}

function lastBoundary(positions: number[], after: number): number | null {
  for (let i = positions.length - 1; i >= 0; i--) if (positions[i]! > after) return positions[i]!;
  return null;
}

/** Positions in (from, to] where a sentence begins. */
function sentenceStarts(source: string, from: number, to: number): number[] {
  const positions: number[] = [];
  // Matching on a slice keeps each call proportional to the window, not to the rest of the document.
  const window = source.slice(from, Math.min(source.length, to + 8));
  for (const m of window.matchAll(SENTENCE_END)) {
    const p = from + m.index + m[0].length;
    if (p > to) break;
    positions.push(p);
  }
  return positions;
}

/** Positions in (from, to] where a word begins after whitespace. */
function wordStarts(source: string, from: number, to: number): number[] {
  const positions: number[] = [];
  for (let i = from + 1; i <= to && i < source.length; i++) if (SPACE.test(source[i - 1]!) && !SPACE.test(source[i]!)) positions.push(i);
  return positions;
}

/** Never split a surrogate pair: half an emoji is not text. */
export function safeCut(source: string, at: number): number {
  const code = source.charCodeAt(at);
  return code >= 0xdc00 && code <= 0xdfff ? at - 1 : at;
}

/**
 * Where the next chunk starts so that it repeats at most `budget` characters
 * of [start, end): the earliest sentence or line start in that window, else
 * the earliest word start; null when nothing fits.
 */
function overlapStart(source: string, start: number, end: number, budget: number): number | null {
  if (budget <= 0) return null;
  const windowStart = Math.max(start + 1, end - budget);
  const inWindow = (p: number) => p >= windowStart && p < end;
  const sentence = sentenceStarts(source, Math.max(start, windowStart - 8), end).find(inWindow);
  const line = lineStart(source, windowStart, end);
  const candidates = [sentence, line ?? undefined].filter((p): p is number => p !== undefined);
  if (candidates.length > 0) return Math.min(...candidates);
  return wordStarts(source, windowStart - 1, end).find(inWindow) ?? null;
}

/** The first non-blank position after a line break in [from, to). */
function lineStart(source: string, from: number, to: number): number | null {
  for (let nl = source.indexOf("\n", from - 1); nl !== -1 && nl < to; nl = source.indexOf("\n", nl + 1)) {
    const p = trimmed(source, nl, to).start;
    if (p >= from && p < to) return p;
  }
  return null;
}
