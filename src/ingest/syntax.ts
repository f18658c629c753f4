import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Grammars shipped in @vscode/tree-sitter-wasm (file names tree-sitter-<name>.wasm); C is parsed by the C++ grammar. */
export type Grammar = "typescript" | "tsx" | "javascript" | "python" | "go" | "rust" | "java" | "cpp" | "ruby" | "bash" | "c-sharp" | "php";

/**
 * A syntax node reduced to what chunking needs: its lines (0-based,
 * inclusive), its type, a label for definitions, and its multi-line parts.
 */
export interface Block {
  first: number;
  last: number;
  type: string;
  /** The definition's first line (its signature), for a chunk's heading; null for anything else. */
  label: string | null;
  children: Block[];
}

type TreeSitter = typeof import("@vscode/tree-sitter-wasm");
type SyntaxNode = import("@vscode/tree-sitter-wasm").Node;
type Parser = import("@vscode/tree-sitter-wasm").Parser;

const require = createRequire(import.meta.url);

/**
 * Definitions whose first line makes a useful heading: functions, classes,
 * methods, types, modules across the grammars; imports, includes and plain
 * statements are not.
 */
const DEFINITION = /function|method|class|struct|enum|interface|trait|impl|module|mod_item|namespace|type_|declaration|definition|constructor|macro|record|export_statement|^object/;
const NOT_DEFINITION = /comment|import|include|using|use_|package|expression|assignment|call|preproc/;
/** Attached to the definition right below them rather than chunked alone. */
const PREAMBLE = /comment|attribute|decorator|annotation/;
const MAX_LABEL_CHARS = 100;

let runtime: Promise<{ ts: TreeSitter; dir: string }> | null = null;
const parsers = new Map<Grammar, Promise<Parser>>();

function loadRuntime(): Promise<{ ts: TreeSitter; dir: string }> {
  runtime ??= (async () => {
    // A UMD bundle: require() is the way Node can load it.
    const ts = require("@vscode/tree-sitter-wasm") as TreeSitter;
    const dir = dirname(require.resolve("@vscode/tree-sitter-wasm"));
    await ts.Parser.init({ locateFile: (file: string) => join(dir, file) });
    return { ts, dir };
  })();
  return runtime;
}

/** One parser per grammar, loaded on first use (10-150 ms each) and reused: parsing is synchronous, so calls never overlap. */
function parserFor(grammar: Grammar): Promise<Parser> {
  let parser = parsers.get(grammar);
  if (!parser) {
    parser = (async () => {
      const { ts, dir } = await loadRuntime();
      const language = await ts.Language.load(join(dir, `tree-sitter-${grammar}.wasm`));
      return new ts.Parser().setLanguage(language);
    })();
    parsers.set(grammar, parser);
  }
  return parser;
}

/** The top-level blocks of a source file, or null if the grammar cannot parse it at all. */
export async function topLevelBlocks(source: string, grammar: Grammar, lines: readonly string[]): Promise<Block[] | null> {
  const parser = await parserFor(grammar);
  const tree = parser.parse(source);
  if (!tree) return null;
  try {
    return blocksOf(tree.rootNode, lines);
  } finally {
    // Trees live in the WebAssembly heap, outside the garbage collector's reach.
    tree.delete();
  }
}

function blocksOf(parent: SyntaxNode, lines: readonly string[]): Block[] {
  const blocks: Block[] = [];
  for (const node of parent.namedChildren) {
    if (node) blocks.push(toBlock(node, lines));
  }
  return blocks;
}

function toBlock(node: SyntaxNode, lines: readonly string[]): Block {
  const first = node.startPosition.row;
  // A node that ends at the start of a line does not occupy that line.
  const last = node.endPosition.column === 0 && node.endPosition.row > first ? node.endPosition.row - 1 : node.endPosition.row;
  const type = node.type;
  const definition = DEFINITION.test(type) && !NOT_DEFINITION.test(type);
  return { first, last, type, label: definition ? signature(lines, first, last) : null, children: last > first ? partsOf(node, lines) : [] };
}

/**
 * The parts a long block splits into: its named children, or, when only
 * one of them spans several lines, that one's parts (an exported class's
 * members, not its export, name and body).
 */
function partsOf(node: SyntaxNode, lines: readonly string[]): Block[] {
  const children = node.namedChildren.filter((c): c is SyntaxNode => c !== null);
  const multiLine = children.filter((c) => c.endPosition.row > c.startPosition.row);
  if (multiLine.length === 1) return partsOf(multiLine[0]!, lines);
  return children.map((c) => toBlock(c, lines));
}

function signature(lines: readonly string[], first: number, last: number): string | null {
  for (let row = first; row <= last; row++) {
    // An opening brace says nothing the signature before it does not.
    const line = lines[row]?.trim().replace(/\s*\{$/, "") ?? "";
    if (line === "" || line.startsWith("@") || line.startsWith("#[")) continue;
    return line.length > MAX_LABEL_CHARS ? `${line.slice(0, MAX_LABEL_CHARS - 1)}…` : line;
  }
  return null;
}

/** Whether a block is a comment, attribute or decorator that belongs with the block below it. */
export function isPreamble(block: Block): boolean {
  return PREAMBLE.test(block.type);
}
