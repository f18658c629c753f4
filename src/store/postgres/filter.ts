import { filterConditions } from "../filter.js";
import type { Filter, FilterCondition, FilterScalar } from "../schemas.js";

/** Values bound to a statement's $1, $2, ... placeholders, in order. */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Binds a value and returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const RANGE_SQL = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

/**
 * Compiles a metadata filter to a PostgreSQL condition over the jsonb
 * column `meta`, with exactly the meaning filter.ts gives it on SQLite:
 *
 * - equality matches a value of the same JSON type, or a list containing
 *   it: `"2020"` never matches `2020`, `true` never matches `1`;
 * - `ne` and `nin` keep chunks without the key;
 * - ranges compare numbers with numbers and strings with strings, strings
 *   bytewise (as SQLite's BINARY collation does, whatever the database's);
 * - keys and values only ever travel as bound parameters.
 *
 * A string holding U+0000 matches nothing: PostgreSQL stores no such
 * metadata (writes refuse it) and cannot even parse it as jsonb.
 */
export function compilePostgresFilter(filter: Filter | undefined, params: SqlParams, meta = "c.meta"): string | null {
  const terms = filterConditions(filter);
  if (terms.length === 0) return null;
  return terms.map(({ key, op, operand }) => compileOp(meta, key, op, operand, params)).join(" AND ");
}

const storable = (value: FilterScalar): boolean => typeof value !== "string" || !value.includes("\u0000");

/** The key's value equals one of `values`, or, for a list-valued key, contains one of them. Never NULL. */
function anyOf(meta: string, key: string, values: readonly FilterScalar[], params: SqlParams): string {
  const literals = values.filter(storable).map((v) => JSON.stringify(v));
  if (literals.length === 0) return "FALSE";
  const value = `(${meta} -> ${params.add(key)})`;
  const list = `${params.add(literals)}::jsonb[]`;
  return `COALESCE(${value} = ANY(${list}) OR (jsonb_typeof(${value}) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(${value}) AS a(x) WHERE a.x = ANY(${list}))), FALSE)`;
}

function compileOp(meta: string, key: string, op: keyof FilterCondition, operand: unknown, params: SqlParams): string {
  switch (op) {
    case "eq":
    case "contains":
      return anyOf(meta, key, [operand as FilterScalar], params);
    case "in":
    case "contains_any":
      return anyOf(meta, key, operand as FilterScalar[], params);
    case "ne":
      return `NOT ${anyOf(meta, key, [operand as FilterScalar], params)}`;
    case "nin":
      return `NOT ${anyOf(meta, key, operand as FilterScalar[], params)}`;
    case "contains_all":
      return `(${(operand as string[]).map((tag) => anyOf(meta, key, [tag], params)).join(" AND ")})`;
    case "exists":
      return `${operand ? "" : "NOT "}(${meta} ? ${params.add(key)})`;
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      // CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and casting a string to float8 fails.
      const value = `(${meta} -> ${params.add(key)})`;
      if (typeof operand === "number") {
        return `CASE WHEN jsonb_typeof(${value}) = 'number' THEN (${value})::float8 ${RANGE_SQL[op]} ${params.add(operand)}::float8 ELSE FALSE END`;
      }
      // UTF-8 bytes compare as SQLite compares text (memcmp), and a bound with U+0000 still compares.
      const bound = params.add(Buffer.from(operand as string, "utf8"));
      return `CASE WHEN jsonb_typeof(${value}) = 'string' THEN convert_to(${value} #>> '{}', 'UTF8') ${RANGE_SQL[op]} ${bound}::bytea ELSE FALSE END`;
    }
  }
}
