/**
 * Text preparation for the lexical (FTS5) index. SQLite's unicode61
 * tokenizer splits on anything that is not a letter or digit, so
 * snake_case and dotted.names already become their parts; what it cannot
 * do is split camelCase or words written without spaces (Chinese,
 * Japanese, Thai). The index therefore stores the text followed by those
 * extra terms, and queries go through the same function, so both sides
 * always agree.
 */

const WORD = /[\p{L}\p{N}]+/gu;
// Scripts written without spaces between words: index overlapping character bigrams.
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]{2,}/gu;
const CAMEL_BOUNDARY = /(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})|(?<=\p{L})(?=\p{N})|(?<=\p{N})(?=\p{L})/u;

function camelParts(word: string): string[] {
  const parts = word.split(CAMEL_BOUNDARY);
  return parts.length > 1 ? parts : [];
}

function bigrams(run: string): string[] {
  const chars = [...run];
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  return out;
}

/** The text as the lexical index stores it: the original, then the extra terms. */
export function lexicalBody(text: string): string {
  const extra: string[] = [];
  for (const [word] of text.matchAll(WORD)) extra.push(...camelParts(word));
  for (const [run] of text.matchAll(UNSPACED)) extra.push(...bigrams(run));
  return extra.length > 0 ? `${text}\n${extra.join(" ")}` : text;
}

// Very common English words carry no ranking signal and make OR queries slow on large stores.
const STOPWORDS = new Set(
  "a an and are as at be but by for from has have he her his i in is it its of on or our she so than that the their them then there these they this to was we were what when where which who why will with you your".split(" "),
);

/**
 * An FTS5 MATCH expression for a free-text query: every distinct term,
 * quoted (so operators and punctuation in the query are only ever text),
 * OR-ed, so BM25 ranks documents by how many and how rare the terms they
 * share are. Null when the query has no searchable term.
 */
export function matchExpression(query: string): string | null {
  const terms = new Set<string>();
  for (const [term] of lexicalBody(query).matchAll(WORD)) {
    const t = term.toLowerCase();
    if (!STOPWORDS.has(t)) terms.add(t);
  }
  if (terms.size === 0) {
    // A query of nothing but stopwords still deserves an answer.
    for (const [term] of query.matchAll(WORD)) terms.add(term.toLowerCase());
  }
  if (terms.size === 0) return null;
  return [...terms].map((t) => `"${t.replaceAll('"', '""')}"`).join(" OR ");
}
