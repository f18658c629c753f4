import mammoth from "mammoth";
import { htmlToText } from "./html.js";

/** Images carry no text; converting them to data URIs would only cost time and memory. */
const NO_IMAGES = mammoth.images.imgElement(async () => ({ src: "" }));

/**
 * A Word document's text through mammoth, which maps Word's heading styles
 * to HTML headings; rendered like HTML, so headings become `#` lines and
 * sections are cited by their heading path. Linked external files are
 * never read.
 */
export async function docxText(bytes: Uint8Array): Promise<string> {
  const { value } = await mammoth.convertToHtml({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, { convertImage: NO_IMAGES, externalFileAccess: false });
  return htmlToText(value, { mainContent: false });
}
