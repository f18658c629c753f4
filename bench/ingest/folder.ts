/**
 * A generated folder of the kinds of files people keep, for bench:ingest:
 * Markdown, reStructuredText, text in UTF-8, Latin-1 and UTF-16, source code
 * in eight languages, HTML pages with navigation and scripts, Word
 * documents, and PDFs of several pages (a few of them scanned, without
 * text). Deterministic: the same seed writes the same bytes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeDocx, writePdf, writeScannedPdf, type DocxBlock } from "../../test/fixtures/documents.js";
import { Corpus, makeRandom } from "../store/corpus.js";

/** Shares of the folder by kind, out of 300 files. */
const MIX = { md: 80, rst: 10, txt: 30, code: 80, html: 40, docx: 25, pdf: 35 } as const;
const SCANNED_PDFS = 3;

const CODE: Record<string, (name: string, body: string) => string> = {
  ts: (name, body) => `// ${body}\nexport function ${name}(input: string): number {\n  const words = input.split(" ");\n  return words.length + ${body.length};\n}`,
  py: (name, body) => `def ${name}(text):\n    """${body}"""\n    words = text.split()\n    return len(words)`,
  go: (name, body) => `// ${name}: ${body}\nfunc ${name}(text string) int {\n\twords := strings.Fields(text)\n\treturn len(words)\n}`,
  rs: (name, body) => `/// ${body}\npub fn ${name}(text: &str) -> usize {\n    text.split_whitespace().count()\n}`,
  java: (name, body) => `    /** ${body} */\n    static int ${name}(String text) {\n        return text.split(" ").length;\n    }`,
  c: (name, body) => `/* ${body} */\nint ${name}(const char *text) {\n  return (int)strlen(text);\n}`,
  rb: (name, body) => `# ${body}\ndef ${name}(text)\n  text.split.length\nend`,
  sh: (name, body) => `# ${body}\n${name}() {\n  echo "$1" | wc -w\n}`,
};

export interface FolderStats {
  files: number;
  byKind: Record<string, number>;
}

export async function writeFolder(root: string, seed: number, scale = 1): Promise<FolderStats> {
  const corpus = new Corpus(seed);
  const random = makeRandom(seed);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  let next = 0;
  const paragraph = () => corpus.chunk(next++);
  const byKind: Record<string, number> = {};
  const count = (kind: string) => (byKind[kind] = (byKind[kind] ?? 0) + 1);
  const dir = (name: string) => {
    const path = join(root, name);
    mkdirSync(path, { recursive: true });
    return path;
  };
  const n = (kind: keyof typeof MIX) => Math.max(1, Math.round(MIX[kind] * scale));

  const notes = dir("notes");
  for (let i = 0; i < n("md"); i++) {
    const sections = Array.from({ length: between(2, 6) }, (_, s) => `## Section ${s + 1}\n\n${Array.from({ length: between(1, 4) }, paragraph).join("\n\n")}`);
    writeFileSync(join(notes, `note-${i}.md`), `# Note ${i}\n\n${paragraph()}\n\n${sections.join("\n\n")}\n`);
    count("md");
  }
  for (let i = 0; i < n("rst"); i++) {
    writeFileSync(join(notes, `guide-${i}.rst`), `Guide ${i}\n=========\n\n${paragraph()}\n\nUsage\n-----\n\n${paragraph()}\n\n${paragraph()}\n`);
    count("rst");
  }
  const texts = dir("texts");
  for (let i = 0; i < n("txt"); i++) {
    const body = `Café notes ${i}, à la carte.\n\n${Array.from({ length: between(2, 6) }, paragraph).join("\n\n")}\n`;
    const encoding = i % 3;
    const bytes = encoding === 0 ? Buffer.from(body, "utf8") : encoding === 1 ? Buffer.from(body, "latin1") : Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(body, "utf16le")]);
    writeFileSync(join(texts, `text-${i}.txt`), bytes);
    count(["txt utf-8", "txt latin-1", "txt utf-16"][encoding]!);
  }
  const src = dir("src");
  const languages = Object.keys(CODE);
  for (let i = 0; i < n("code"); i++) {
    const ext = languages[i % languages.length]!;
    const functions = Array.from({ length: between(8, 40) }, (_, f) => CODE[ext]!(`fn${i}_${f}`, paragraph().slice(0, 120)));
    const source = ext === "java" ? `public class File${i} {\n${functions.join("\n\n")}\n}\n` : `${functions.join("\n\n")}\n`;
    writeFileSync(join(src, `file${i}.${ext}`), source);
    count(ext);
  }
  const site = dir("site");
  for (let i = 0; i < n("html"); i++) {
    const sections = Array.from({ length: between(2, 5) }, (_, s) => `<h2>Part ${s + 1}</h2>${Array.from({ length: between(1, 3) }, () => `<p>${paragraph()}</p>`).join("")}`);
    writeFileSync(
      join(site, `page-${i}.html`),
      `<!doctype html><html><head><title>Page ${i}</title><script>window.track = ${i};</script></head><body>` +
        `<nav><a href="/">Home</a> <a href="/about">About</a></nav><main><h1>Page ${i}</h1><p>${paragraph()}</p>${sections.join("")}</main>` +
        `<footer>Copyright</footer></body></html>`,
    );
    count("html");
  }
  const office = dir("office");
  for (let i = 0; i < n("docx"); i++) {
    const blocks: DocxBlock[] = [{ heading: `Report ${i}`, level: 1 }];
    for (let s = 0; s < between(2, 5); s++) {
      blocks.push({ heading: `Topic ${s + 1}`, level: 2 });
      for (let p = 0; p < between(1, 3); p++) blocks.push({ paragraph: paragraph() });
    }
    await writeDocx(join(office, `report-${i}.docx`), blocks);
    count("docx");
  }
  const papers = dir("papers");
  for (let i = 0; i < n("pdf"); i++) {
    const path = join(papers, `paper-${i}.pdf`);
    if (i < SCANNED_PDFS) {
      await writeScannedPdf(path, between(1, 3));
      count("pdf scanned");
    } else {
      await writePdf(path, Array.from({ length: between(2, 6) }, () => Array.from({ length: between(2, 4) }, paragraph)));
      count("pdf");
    }
  }
  return { files: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
}
