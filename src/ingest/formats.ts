import { extname } from "node:path";
import type { Grammar } from "./syntax.js";

export type Format = "text" | "code" | "html" | "docx" | "pdf";

export interface FileKind {
  format: Format;
  /** For code: the tree-sitter grammar, or null to split at blank lines only. */
  grammar: Grammar | null;
}

/** Prose in plain-text markups: chunked at headings and paragraphs. */
const TEXT = [".txt", ".text", ".md", ".markdown", ".mdown", ".mkd", ".mdx", ".rst", ".adoc", ".asciidoc", ".org", ".tex", ".textile", ".wiki"];

/** Source code: chunked at top-level definitions where a grammar is shipped, else at blank lines. */
const CODE: Record<string, Grammar | null> = {
  ".ts": "typescript",
  ".mts": "typescript",
  ".cts": "typescript",
  ".tsx": "tsx",
  ".js": "javascript",
  ".mjs": "javascript",
  ".cjs": "javascript",
  ".jsx": "javascript",
  ".py": "python",
  ".pyi": "python",
  ".go": "go",
  ".rs": "rust",
  ".java": "java",
  // C is close enough to C++ for finding its functions and structs.
  ".c": "cpp",
  ".h": "cpp",
  ".cc": "cpp",
  ".cpp": "cpp",
  ".cxx": "cpp",
  ".hh": "cpp",
  ".hpp": "cpp",
  ".hxx": "cpp",
  ".rb": "ruby",
  ".rake": "ruby",
  ".sh": "bash",
  ".bash": "bash",
  ".zsh": "bash",
  ".cs": "c-sharp",
  ".php": "php",
  ".kt": null,
  ".kts": null,
  ".swift": null,
  ".scala": null,
  ".lua": null,
  ".pl": null,
  ".pm": null,
  ".r": null,
  ".sql": null,
};

const DOCUMENTS: Record<string, Format> = { ".html": "html", ".htm": "html", ".xhtml": "html", ".docx": "docx", ".pdf": "pdf" };

/** Extensions a folder walk picks up, for the README and help text. */
export const WALKED_EXTENSIONS = { text: TEXT, code: Object.keys(CODE), documents: Object.keys(DOCUMENTS) } as const;

/**
 * How to read a file, by its extension; null for a file a folder walk
 * leaves alone. A file named explicitly is read as text whatever its
 * extension (a log, a config file), if it decodes as text.
 */
export function fileKind(path: string, explicit: boolean): FileKind | null {
  const ext = extname(path).toLowerCase();
  if (TEXT.includes(ext)) return { format: "text", grammar: null };
  if (Object.hasOwn(CODE, ext)) return { format: "code", grammar: CODE[ext] ?? null };
  const document = DOCUMENTS[ext];
  if (document) return { format: document, grammar: null };
  return explicit ? { format: "text", grammar: null } : null;
}
