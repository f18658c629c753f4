import type { Filter, FilterCondition, FilterScalar, Metadata } from "./schemas.js";
import { sqlString } from "./sql-literal.js";

/**
 * Metadata as Lance can filter it. Every Lance row carries its version's
 * metadata as a list of terms, under a LABEL_LIST index: one term per
 * (key, value) pair (a list-valued key gives one per element) and one per
 * key present. A metadata filter then becomes a prefilter Lance applies
 * inside its vector and full-text searches, from bitmaps, before ranking:
 * a filter matching 1% of a million rows costs a search what no filter
 * costs, where filtering afterwards would read a hundred times the rows.
 *
 * Terms are JSON, `["key", value]` and `["key"]`, so no key or value can
 * be mistaken for another: `"2020"` and `2020` differ, as they do in
 * filters. Values longer than MAX_TERM_CHARS are not indexed; a filter on
 * one is left to SQLite, which checks every filter anyway.
 */

/** Longer values are rare (ids and tags are short) and would bloat the label index. */
export const MAX_TERM_CHARS = 256;

function valueTerm(key: string, value: FilterScalar): string | null {
  const term = JSON.stringify([key, value]);
  return term.length <= MAX_TERM_CHARS ? term : null;
}

const presenceTerm = (key: string): string => JSON.stringify([key]);

/** The terms of one version's metadata, for its Lance row. */
export function metadataTerms(metadata: Metadata): string[] {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    terms.push(presenceTerm(key));
    for (const v of Array.isArray(value) ? value : [value]) {
      const term = valueTerm(key, v);
      if (term !== null) terms.push(term);
    }
  }
  return terms;
}

/**
 * The part of a filter Lance can apply itself, as a Lance SQL predicate
 * over the `meta` column, with `exact` telling whether it is the whole
 * filter. Equality, lists, `ne`/`nin` and `exists` translate exactly (their
 * meaning is the one SQLite applies: a value matches itself or a list that
 * contains it; a missing key is "not equal"); ranges do not, and are left
 * out, so the predicate is then a superset that SQLite narrows.
 */
export function lancePredicate(filter: Filter | undefined): { predicate: string | null; exact: boolean } {
  const parts: string[] = [];
  let exact = true;
  for (const [key, value] of Object.entries(filter ?? {})) {
    const condition: FilterCondition = Array.isArray(value) ? { in: value } : typeof value === "object" && value !== null ? value : { eq: value };
    for (const [op, operand] of Object.entries(condition) as [keyof FilterCondition, unknown][]) {
      if (operand === undefined) continue;
      const part = translate(key, op, operand);
      if (part === null) exact = false;
      else parts.push(part);
    }
  }
  return { predicate: parts.length > 0 ? parts.join(" AND ") : null, exact };
}

function anyOf(key: string, values: readonly FilterScalar[]): string | null {
  const terms = values.map((v) => valueTerm(key, v));
  if (terms.some((t) => t === null)) return null;
  return `array_has_any(meta, [${terms.map((t) => sqlString(t!)).join(", ")}])`;
}

function translate(key: string, op: keyof FilterCondition, operand: unknown): string | null {
  switch (op) {
    case "eq":
    case "contains":
      return anyOf(key, [operand as FilterScalar]);
    case "in":
    case "contains_any":
      return anyOf(key, operand as FilterScalar[]);
    case "contains_all": {
      const each = (operand as string[]).map((tag) => anyOf(key, [tag]));
      return each.some((p) => p === null) ? null : `(${each.join(" AND ")})`;
    }
    case "ne":
    case "nin": {
      const positive = anyOf(key, op === "ne" ? [operand as FilterScalar] : (operand as FilterScalar[]));
      return positive === null ? null : `NOT ${positive}`;
    }
    case "exists":
      return `${operand ? "" : "NOT "}array_has_any(meta, [${sqlString(presenceTerm(key))}])`;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return null;
  }
}
