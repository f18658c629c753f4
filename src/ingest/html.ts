import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";

/** The part of the DOM the text rendering reads (linkedom's nodes have it; the project has no DOM type library). */
interface DomNode {
  nodeType: number;
  nodeName: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
  getAttribute?: (name: string) => string | null;
}

interface DomElement extends DomNode {
  remove: () => void;
  closest: (selector: string) => DomNode | null;
}

interface DomDocument extends DomNode {
  title: string;
  body: DomNode | null;
  querySelectorAll: (selector: string) => ArrayLike<DomElement>;
}

const ELEMENT = 1;
const TEXT = 3;

/** Never text a reader sees. */
const INVISIBLE = new Set(["script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "head", "select", "button", "input", "textarea", "math"]);
/** Around a page's content, never part of it: removed before Readability looks for the content. */
const CHROME = "nav, [role=navigation], [role=banner], [role=contentinfo], [role=complementary], [role=search], [hidden], [aria-hidden=true]";
/** The site's header, footer and sidebars, unless they belong to the article itself (its title, its notes). */
const PAGE_FRAME = "header, footer, aside, form";
const CONTENT = "article, main, [role=main]";
const BLOCK = new Set([
  "address", "article", "aside", "blockquote", "center", "dd", "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure",
  "footer", "form", "header", "hgroup", "li", "main", "nav", "ol", "p", "section", "summary", "table", "tbody", "tfoot", "thead", "ul", "caption",
]);
const HEADING = /^h([1-6])$/;

/**
 * Turns HTML into plain text that keeps its structure where search needs
 * it: headings as Markdown `#` lines (so the chunker follows the sections
 * and cites their path), paragraphs and list items on their own lines,
 * table rows as `cell | cell`, preformatted text as it is.
 *
 * With `mainContent`, only the page's main content is kept: Mozilla's
 * Readability (Firefox's Reader View) picks it, dropping navigation,
 * sidebars, footers, scripts and styles, and the page title becomes the
 * top heading. A page Readability finds no article in is read whole, minus
 * navigation, headers, footers, asides and forms.
 */
export function htmlToText(html: string, options: { mainContent: boolean }): string {
  const document = parse(html);
  if (!options.mainContent) return render(document.body ?? document);
  const title = document.title.trim();
  const article = new Readability<DomNode>(withoutChrome(document) as never, { serializer: (node) => node as unknown as DomNode }).parse();
  // Readability rearranges the document it reads: the fallback starts again from the page.
  const content = article?.content ?? withoutChrome(parse(html)).body;
  const text = content ? render(content) : "";
  const startsWithTitle = title !== "" && new RegExp(`^#{1,6} ${escapeRegExp(title)}\\s*(\\n|$)`).test(text);
  return title === "" || startsWithTitle ? text : `# ${title}\n\n${text}`.trimEnd();
}

function withoutChrome(document: DomDocument): DomDocument {
  for (const node of Array.from(document.querySelectorAll(CHROME))) node.remove();
  for (const node of Array.from(document.querySelectorAll(PAGE_FRAME))) if (!node.closest(CONTENT)) node.remove();
  return document;
}

/** linkedom builds a document only from a whole page; a fragment (a Word document's HTML, a snippet saved as .html) is wrapped in one. */
function parse(html: string): DomDocument {
  const page = /<(html|body)[\s>]/i.test(html) ? html : `<!doctype html><html><head></head><body>${html}</body></html>`;
  return parseHTML(page).document as unknown as DomDocument;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Collects text with at most two line breaks in a row and single spaces inside lines. */
class TextWriter {
  private readonly out: string[] = [];
  private breaks = 2;
  private space = false;

  text(raw: string): void {
    const collapsed = raw.replace(/\s+/g, " ");
    if (collapsed.trim() === "") {
      if (collapsed !== "" && this.breaks === 0) this.space = true;
      return;
    }
    const leading = collapsed.startsWith(" ");
    const body = collapsed.trim();
    if (this.breaks > 0) this.out.push("\n".repeat(this.out.length === 0 ? 0 : this.breaks));
    else if (this.space || leading) this.out.push(" ");
    this.out.push(body);
    this.breaks = 0;
    this.space = collapsed.endsWith(" ");
  }

  /** Text kept exactly, line breaks and indentation included. */
  verbatim(raw: string): void {
    const body = raw.replace(/^\n+|\s+$/g, "");
    if (body === "") return;
    if (this.out.length > 0) this.out.push("\n\n");
    this.out.push(body);
    this.breaks = 2;
    this.space = false;
  }

  lineBreak(count: 1 | 2): void {
    if (this.out.length === 0) return;
    this.breaks = Math.max(this.breaks, count);
    this.space = false;
  }

  toString(): string {
    return this.out.join("");
  }
}

function render(root: DomNode): string {
  const writer = new TextWriter();
  walk(root, writer);
  return writer.toString();
}

function walk(node: DomNode, writer: TextWriter): void {
  if (node.nodeType === TEXT) {
    writer.text(node.textContent ?? "");
    return;
  }
  if (node.nodeType !== ELEMENT) {
    for (const child of Array.from(node.childNodes)) walk(child, writer);
    return;
  }
  const name = node.nodeName.toLowerCase();
  if (INVISIBLE.has(name)) return;
  const heading = HEADING.exec(name);
  if (heading) {
    const title = (node.textContent ?? "").replace(/\s+/g, " ").trim();
    if (title === "") return;
    writer.lineBreak(2);
    writer.text(`${"#".repeat(Number(heading[1]))} ${title}`);
    writer.lineBreak(2);
    return;
  }
  switch (name) {
    case "br":
      writer.lineBreak(1);
      return;
    case "hr":
      writer.lineBreak(2);
      return;
    case "pre":
      writer.verbatim(node.textContent ?? "");
      return;
    case "li":
      writer.lineBreak(1);
      writer.text("- ");
      for (const child of Array.from(node.childNodes)) walk(child, writer);
      writer.lineBreak(1);
      return;
    case "tr":
      writer.lineBreak(1);
      Array.from(node.childNodes)
        .filter((cell) => cell.nodeType === ELEMENT)
        .forEach((cell, i) => {
          if (i > 0) writer.text(" | ");
          for (const child of Array.from(cell.childNodes)) walk(child, writer);
        });
      writer.lineBreak(1);
      return;
  }
  const block = BLOCK.has(name);
  if (block) writer.lineBreak(name === "dt" || name === "dd" ? 1 : 2);
  for (const child of Array.from(node.childNodes)) walk(child, writer);
  if (block) writer.lineBreak(2);
}
