/**
 * Text preparation for the keyword (BM25) index, Lance's full-text index
 * over each row's `lexical` column. Its tokenizer splits on anything that
 * is not a letter or digit (so snake_case and dotted.names become their
 * parts), lower-cases, folds accents and stems English; what it cannot do
 * is split camelCase or words written without spaces (Chinese, Japanese,
 * Thai). The column therefore holds the text followed by those extra
 * terms, and queries go through the same function, so both sides agree.
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

// English function words: they carry next to no ranking signal, and on a
// large store every OR-ed term costs a pass over its posting list. (The
// usual list, as in NLTK and Lucene. Against a 50-word list it is
// quality-neutral on the `npm run eval` collections, +0.006 to -0.008 nDCG@10 per
// collection, and leaves fewer long posting lists to walk.)
const STOPWORDS = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being below between both but by can " +
    "did do does doing down during each few for from further had has have having he her here hers herself him himself his how i " +
    "if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves out " +
    "over own same she should so some such than that the their theirs them themselves then there these they this those through " +
    "to too under until up very was we were what when where which while who whom why will with you your yours yourself yourselves"
  ).split(" "),
);

/**
 * The terms of a free-text query, space-separated, for a full-text match
 * that ORs them, so BM25 ranks documents by how many and how rare the
 * terms they share are. The query is never parsed as syntax: quotes,
 * operators and punctuation only separate words. Null when the query has
 * no searchable term.
 */
export function keywordQuery(query: string): string | null {
  const terms = new Set<string>();
  for (const [term] of lexicalBody(query).matchAll(WORD)) {
    const t = term.toLowerCase();
    if (!STOPWORDS.has(t)) terms.add(t);
  }
  if (terms.size === 0) {
    // A query of nothing but stopwords still deserves an answer.
    for (const [term] of query.matchAll(WORD)) terms.add(term.toLowerCase());
  }
  return terms.size > 0 ? [...terms].join(" ") : null;
}
