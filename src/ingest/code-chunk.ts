import { DEFAULT_CHUNK_OPTIONS, HEADING_PATH_SEPARATOR, safeCut, splitLines, type ChunkOptions, type TextChunk } from "./chunk.js";
import { isPreamble, topLevelBlocks, type Block, type Grammar } from "./syntax.js";

/** A run of whole lines (0-based, inclusive) that stays together unless it is too long for a chunk. */
interface Unit {
  first: number;
  last: number;
  label: string | null;
  /** What the unit splits into when it is too long: its syntax parts. */
  parts: Block[];
}

interface Lines {
  source: string;
  spans: { start: number; end: number }[];
  blank: boolean[];
}

/**
 * Splits source code into chunks of whole lines that break between
 * top-level definitions (functions, classes, ...), as the language's
 * tree-sitter grammar sees them; without a grammar, at blank lines. A
 * definition too long for one chunk is split between its members, then at
 * blank lines, then between lines. Only a single line longer than a chunk
 * (minified code) is cut inside. Comments, attributes and decorators stay
 * with the definition below them. A chunk's heading is the signature of
 * the definition it starts in, with the enclosing ones before it
 * ("class Store > async write(...)").
 */
export async function chunkCode(source: string, grammar: Grammar | null, options: Partial<ChunkOptions> = {}): Promise<TextChunk[]> {
  const o = { ...DEFAULT_CHUNK_OPTIONS, ...options };
  const spans = splitLines(source);
  const texts = spans.map((s) => source.slice(s.start, s.end));
  const lines: Lines = { source, spans, blank: texts.map((t) => t.trim() === "") };
  if (spans.length === 0) return [];
  const blocks = grammar ? await topLevelBlocks(source, grammar, texts) : null;
  const chunks: TextChunk[] = [];
  pack(lines, partition(lines, blocks ?? [], 0, spans.length - 1), { label: null, header: -1 }, o, chunks);
  return chunks;
}

/**
 * Units covering lines [from, to]: one per block, each taking the lines
 * since the previous one (blank lines, the header of an enclosing
 * definition) and the last taking the rest (its closing brace). Comments
 * and attributes join the block below them; blocks that share a line join.
 * Without blocks, paragraphs between blank lines.
 */
function partition(lines: Lines, blocks: readonly Block[], from: number, to: number): Unit[] {
  const inside = blocks.filter((b) => b.last >= from && b.first <= to).sort((a, b) => a.first - b.first);
  if (inside.length === 0) return paragraphs(lines, from, to);
  const units: Unit[] = [];
  let preamble = false;
  for (const block of inside) {
    const previous = units[units.length - 1];
    if (previous && (preamble || block.first <= previous.last)) {
      previous.last = Math.max(previous.last, block.last);
      previous.label ??= block.label;
      // Blocks sharing a line have no line between them to split at.
      previous.parts = preamble ? block.children : [];
    } else {
      units.push({ first: previous ? previous.last + 1 : from, last: block.last, label: block.label, parts: block.children });
    }
    preamble = isPreamble(block);
  }
  units[0]!.first = from;
  units[units.length - 1]!.last = Math.max(units[units.length - 1]!.last, to);
  return units.filter((u) => u.first <= u.last);
}

function paragraphs(lines: Lines, from: number, to: number): Unit[] {
  const units: Unit[] = [];
  let start = from;
  for (let row = from; row <= to; row++) {
    const endsParagraph = row === to || (!lines.blank[row] && lines.blank[row + 1]);
    if (endsParagraph) {
      units.push({ first: start, last: row, label: null, parts: [] });
      start = row + 1;
    }
  }
  return units;
}

function size(lines: Lines, first: number, last: number): number {
  return lines.spans[last]!.end - lines.spans[first]!.start;
}

function joinLabels(outer: string | null, inner: string | null): string | null {
  if (outer === null) return inner;
  return inner === null ? outer : `${outer}${HEADING_PATH_SEPARATOR}${inner}`;
}

/** The definition being split: its heading path and its first line (-1 at the top level). */
interface Enclosing {
  label: string | null;
  header: number;
}

/**
 * Groups consecutive units into chunks of up to `targetChars` (never over
 * `maxChars`), splitting units that are too long alone. A chunk's heading
 * names the definition it starts in; one that starts at the enclosing
 * definition's own first line is headed by that definition, and one that
 * starts before any definition (imports) by the first definition in it.
 */
function pack(lines: Lines, units: readonly Unit[], outer: Enclosing, o: ChunkOptions, out: TextChunk[]): void {
  let group: Unit[] = [];
  const flush = (): void => {
    if (group.length === 0) return;
    const lead = group[0]!;
    const label = lead.first === outer.header ? null : (lead.label ?? group.find((u) => u.label !== null)?.label ?? null);
    emit(lines, lead.first, group[group.length - 1]!.last, joinLabels(outer.label, label), out);
    group = [];
  };
  for (const unit of units) {
    if (size(lines, unit.first, unit.last) > o.maxChars) {
      flush();
      split(lines, unit, outer, o, out);
      continue;
    }
    if (group.length > 0 && size(lines, group[0]!.first, unit.last) > o.maxChars) flush();
    group.push(unit);
    if (size(lines, group[0]!.first, unit.last) >= o.targetChars) flush();
  }
  flush();
}

/** A unit too long for one chunk: between its syntax parts, else at blank lines, else between lines. */
function split(lines: Lines, unit: Unit, outer: Enclosing, o: ChunkOptions, out: TextChunk[]): void {
  const label = joinLabels(outer.label, unit.label);
  const inner = { label, header: unit.first };
  const finer = [partition(lines, unit.parts, unit.first, unit.last), paragraphs(lines, unit.first, unit.last)];
  const pieces = finer.find((units) => units.length > 1);
  if (pieces) {
    pack(lines, pieces, inner, o, out);
    return;
  }
  if (unit.first < unit.last) {
    const each: Unit[] = [];
    for (let row = unit.first; row <= unit.last; row++) each.push({ first: row, last: row, label: null, parts: [] });
    pack(lines, each, inner, o, out);
    return;
  }
  // One line longer than a chunk: the only place a chunk may end inside a line.
  const { start, end } = lines.spans[unit.first]!;
  for (let at = start; at < end; ) {
    const cut = Math.min(end, safeCut(lines.source, at + o.maxChars));
    out.push({ text: lines.source.slice(at, cut), start: at, end: cut, heading: label });
    at = cut;
  }
}

/** A chunk of lines [first, last] without the blank lines at either end; nothing if all are blank. */
function emit(lines: Lines, first: number, last: number, heading: string | null, out: TextChunk[]): void {
  while (first <= last && lines.blank[first]) first++;
  while (last >= first && lines.blank[last]) last--;
  if (first > last) return;
  const start = lines.spans[first]!.start;
  const end = lines.spans[last]!.end;
  out.push({ text: lines.source.slice(start, end), start, end, heading });
}
