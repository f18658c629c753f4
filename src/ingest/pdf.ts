import type { TextItem } from "pdfjs-dist/types/src/display/api.js";

/** A PDF's text, one string per page (page 1 first); a page without text is "". */
export type PdfText = { kind: "pages"; pages: string[] } | { kind: "unreadable"; reason: string };

/**
 * Baselines further apart than this many times the text height start a new
 * paragraph: body text is set at 1.2-1.5 times its size, so a larger gap
 * is a blank line or a heading's space.
 */
const PARAGRAPH_GAP = 1.6;
/** Runs on one line this far apart (in text heights) are separate words even without a space between them. */
const WORD_GAP = 0.15;

let pdfjs: Promise<typeof import("pdfjs-dist/legacy/build/pdf.mjs")> | null = null;

/**
 * Extracts the text of every page with Mozilla's pdf.js (the legacy build,
 * the one meant for Node), rebuilding lines and paragraphs from where the
 * text sits on the page. Fonts are never loaded or rendered: text
 * extraction needs neither, and pdf.js logs only errors, so nothing
 * reaches stdout.
 */
export async function pdfText(bytes: Uint8Array): Promise<PdfText> {
  pdfjs ??= import("pdfjs-dist/legacy/build/pdf.mjs");
  let lib: Awaited<typeof pdfjs>;
  try {
    lib = await pdfjs;
  } catch (error) {
    pdfjs = null;
    // pdf.js needs @napi-rs/canvas in Node, an optional dependency that `npm install --omit=optional` leaves out.
    return { kind: "unreadable", reason: `PDF support could not start (${error instanceof Error ? error.message : String(error)}); reinstall retrieval-mcp with its optional dependencies` };
  }
  const task = lib.getDocument({
    // pdf.js takes ownership of (detaches) the buffer it is given.
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: lib.VerbosityLevel.ERRORS,
  });
  try {
    const document = await task.promise;
    const pages: string[] = [];
    for (let n = 1; n <= document.numPages; n++) {
      const page = await document.getPage(n);
      const content = await page.getTextContent();
      pages.push(pageText(content.items.filter((item): item is TextItem => "str" in item)));
      page.cleanup();
    }
    return { kind: "pages", pages };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "PasswordException") return { kind: "unreadable", reason: "the PDF is encrypted with a password" };
    if (name === "InvalidPDFException") return { kind: "unreadable", reason: `not a valid PDF file (${(error as Error).message})` };
    throw error;
  } finally {
    await task.destroy();
  }
}

function pageText(items: readonly TextItem[]): string {
  let out = "";
  let previous: { y: number; x: number; height: number } | null = null;
  for (const item of items) {
    const x = item.transform[4] ?? 0;
    const y = item.transform[5] ?? 0;
    const height = item.height || Math.hypot(item.transform[2] ?? 0, item.transform[3] ?? 0) || 1;
    if (previous && item.str !== "") {
      const lineHeight = Math.max(height, previous.height);
      if (Math.abs(previous.y - y) > lineHeight / 2) {
        out = out.replace(/[ \t]+$/, "");
        const gap = Math.abs(previous.y - y) > lineHeight * PARAGRAPH_GAP ? "\n\n" : "\n";
        if (!out.endsWith(gap)) out = out.replace(/\n*$/, gap);
      } else if (x - previous.x > lineHeight * WORD_GAP && !/\s$/.test(out) && !/^\s/.test(item.str)) {
        out += " ";
      }
    }
    out += item.str;
    if (item.hasEOL) out += "\n";
    if (item.str !== "") previous = { y, x: x + item.width, height };
  }
  return out.replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
}
