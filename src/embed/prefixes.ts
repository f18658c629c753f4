import type { EmbedKind } from "./embedder.js";

export interface Prefixes {
  query: string;
  document: string;
}

const NONE: Prefixes = { query: "", document: "" };

const BGE_EN_QUERY = "Represent this sentence for searching relevant passages: ";
const BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章：";

/**
 * Asymmetric retrieval models were trained with markers on queries and/or
 * passages; without them recall drops noticeably. Matched on the model name
 * so it works the same for local models and for models behind an endpoint.
 * BGE's v1.5 models work without the instruction but still gain from it.
 */
const RULES: readonly { pattern: RegExp; prefixes: Prefixes }[] = [
  { pattern: /(^|[/_-])(multilingual-)?e5(-|$)/i, prefixes: { query: "query: ", document: "passage: " } },
  { pattern: /(^|[/_-])bge-[^/]*-zh/i, prefixes: { query: BGE_ZH_QUERY, document: "" } },
  { pattern: /(^|[/_-])bge-(small|base|large)-en/i, prefixes: { query: BGE_EN_QUERY, document: "" } },
  { pattern: /nomic-embed-text/i, prefixes: { query: "search_query: ", document: "search_document: " } },
  { pattern: /mxbai-embed-large/i, prefixes: { query: BGE_EN_QUERY, document: "" } },
];

export function prefixesFor(model: string): Prefixes {
  return RULES.find((rule) => rule.pattern.test(model))?.prefixes ?? NONE;
}

export function applyPrefix(texts: readonly string[], prefixes: Prefixes, kind: EmbedKind): readonly string[] {
  const prefix = kind === "query" ? prefixes.query : prefixes.document;
  return prefix === "" ? texts : texts.map((text) => prefix + text);
}
