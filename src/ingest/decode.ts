/** How a text file's bytes were read. */
export type TextEncoding = "utf-8" | "utf-16le" | "utf-16be" | "windows-1252";

export type Decoded = { kind: "text"; text: string; encoding: TextEncoding } | { kind: "binary" };

/** Bytes looked at to tell text from binary: enough for any header, cheap for any file. */
const SNIFF_BYTES = 8192;

/**
 * UTF-16 text that is mostly ASCII has a NUL in every other byte; binary
 * data has NULs at both parities. 30% (rather than ~100%) leaves room for
 * CJK and other text outside ASCII, whose code units rarely hold a zero byte.
 */
const UTF16_ZERO_SHARE = 0.3;
/** ...while the other parity holds almost none. */
const UTF16_OTHER_ZERO_SHARE = 0.02;

/**
 * Control characters other than tab, line breaks, form feed and escape
 * (terminal colours in logs): text has next to none, so more than 1 in 200
 * characters means the bytes were not text in the encoding guessed. Valid
 * UTF-8 is not second-guessed: it is text as it always was.
 */
const MAX_CONTROL_SHARE = 0.005;
const CONTROL = /[\u0000-\u0008\u000e-\u001a\u001c-\u001f\u007f]/g;

/**
 * Decodes a text file: UTF-8 (with or without a byte-order mark), UTF-16
 * in either byte order (with a byte-order mark, or recognised by where its
 * zero bytes fall), and otherwise Windows-1252, the superset of Latin-1
 * that old Western European text files are written in. Anything with NUL
 * bytes that is not UTF-16, or that decodes to control characters, is binary.
 */
export function decodeText(bytes: Uint8Array): Decoded {
  const bom = byteOrderMark(bytes);
  if (bom) return decodeAs(bom.encoding, bytes.subarray(bom.length), false);
  const head = bytes.subarray(0, SNIFF_BYTES);
  if (head.includes(0)) {
    const utf16 = utf16ByZeros(head);
    return utf16 ? decodeAs(utf16, bytes, true) : { kind: "binary" };
  }
  const utf8 = decodeAs("utf-8", bytes, false);
  return utf8.kind === "text" ? utf8 : decodeAs("windows-1252", bytes, true);
}

function byteOrderMark(bytes: Uint8Array): { encoding: TextEncoding; length: number } | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: "utf-8", length: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: "utf-16le", length: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: "utf-16be", length: 2 };
  return null;
}

function utf16ByZeros(head: Uint8Array): TextEncoding | null {
  const pairs = Math.floor(head.length / 2);
  if (pairs === 0) return null;
  let even = 0;
  let odd = 0;
  for (let i = 0; i + 1 < head.length; i += 2) {
    if (head[i] === 0) even++;
    if (head[i + 1] === 0) odd++;
  }
  if (odd / pairs >= UTF16_ZERO_SHARE && even / pairs <= UTF16_OTHER_ZERO_SHARE) return "utf-16le";
  if (even / pairs >= UTF16_ZERO_SHARE && odd / pairs <= UTF16_OTHER_ZERO_SHARE) return "utf-16be";
  return null;
}

/**
 * Windows-1252's characters at 0x80-0x9F, where Latin-1 has control codes
 * (its five unassigned bytes stay as they are). Node's TextDecoder decodes
 * "windows-1252" as plain Latin-1, so they are mapped here.
 */
const WINDOWS_1252_HIGH = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

function windows1252(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("latin1")
    .replace(/[\u0080-\u009f]/g, (c) => WINDOWS_1252_HIGH[c.charCodeAt(0) - 0x80]!);
}

function decodeAs(encoding: TextEncoding, bytes: Uint8Array, guessed: boolean): Decoded {
  let text: string;
  try {
    // The byte-order mark, if any, was cut off by the caller; one left in the text would be content.
    text = encoding === "windows-1252" ? windows1252(bytes) : new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { kind: "binary" };
  }
  if (guessed && (text.match(CONTROL)?.length ?? 0) > text.length * MAX_CONTROL_SHARE) return { kind: "binary" };
  return { kind: "text", text, encoding };
}
