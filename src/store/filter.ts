import type { Filter, FilterCondition, FilterScalar } from "./schemas.js";

/** A SQL boolean expression over `c.metadata` and the values bound to its placeholders. */
export interface CompiledFilter {
  sql: string;
  params: (string | number)[];
}

/**
 * Compiles a metadata filter to SQLite. Keys and values only ever travel
 * as bound parameters (json_each walks the metadata object, so no JSON path
 * is built from a key either): a value like `x' OR '1'='1` can only match
 * that literal string.
 */
export function compileFilter(filter: Filter | undefined): CompiledFilter | null {
  const conditions = filterConditions(filter);
  if (conditions.length === 0) return null;
  const params: (string | number)[] = [];
  const parts = conditions.map(({ key, op, operand }) => compileOp(key, op, operand as never, params));
  return { sql: parts.join(" AND "), params };
}

/** One operator of a filter on one key: what every backend compiles, all of them ANDed. */
export interface FilterTerm {
  key: string;
  op: keyof FilterCondition;
  operand: unknown;
}

/** A filter as its terms: a bare value is `eq`, a list `in`, a condition object its operators. */
export function filterConditions(filter: Filter | undefined): FilterTerm[] {
  const terms: FilterTerm[] = [];
  for (const [key, value] of Object.entries(filter ?? {})) {
    const condition: FilterCondition = Array.isArray(value) ? { in: value } : isCondition(value) ? value : { eq: value };
    for (const [op, operand] of Object.entries(condition)) {
      if (operand !== undefined) terms.push({ key, op: op as keyof FilterCondition, operand });
    }
  }
  return terms;
}

function isCondition(value: unknown): value is FilterCondition {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `x` (a json_each row) holds exactly this JSON scalar. */
function scalarMatch(alias: string, value: FilterScalar, params: (string | number)[]): string {
  if (value === null) return `${alias}.type = 'null'`;
  if (typeof value === "boolean") return `${alias}.type = '${value ? "true" : "false"}'`;
  params.push(value);
  return typeof value === "number" ? `(${alias}.type IN ('integer', 'real') AND ${alias}.value = ?)` : `(${alias}.type = 'text' AND ${alias}.value = ?)`;
}

/** The key's value equals one of `values`, or, for a list-valued key, contains one of them. */
function anyOf(key: string, values: readonly FilterScalar[], params: (string | number)[]): string {
  params.push(key);
  const direct = values.map((v) => scalarMatch("j", v, params)).join(" OR ");
  const inList = values.map((v) => scalarMatch("a", v, params)).join(" OR ");
  return `EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE j.key = ? AND ((${direct}) OR (j.type = 'array' AND EXISTS (SELECT 1 FROM json_each(j.value) a WHERE ${inList}))))`;
}

const RANGE_SQL = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

function compileOp(key: string, op: keyof FilterCondition, operand: never, params: (string | number)[]): string {
  switch (op) {
    case "eq":
    case "contains":
      return anyOf(key, [operand], params);
    case "in":
    case "contains_any":
      return anyOf(key, operand, params);
    case "ne":
      return `NOT ${anyOf(key, [operand], params)}`;
    case "nin":
      return `NOT ${anyOf(key, operand, params)}`;
    case "contains_all":
      return `(${(operand as string[]).map((tag) => anyOf(key, [tag], params)).join(" AND ")})`;
    case "exists":
      params.push(key);
      return `${operand ? "" : "NOT "}EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE j.key = ?)`;
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      // Numbers compare with numbers, strings (ISO dates) with strings; mixed types never match.
      const bound = operand as number | string;
      params.push(key, bound);
      const type = typeof bound === "number" ? "j.type IN ('integer', 'real')" : "j.type = 'text'";
      return `EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE j.key = ? AND ${type} AND j.value ${RANGE_SQL[op]} ?)`;
    }
  }
}
