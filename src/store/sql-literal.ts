/**
 * Lance filters are SQL text (DataFusion); LanceDB has no bound parameters.
 * Every value that reaches a Lance predicate goes through here: a standard
 * SQL string literal with embedded quotes doubled, so a value can only ever
 * be compared, never change the predicate's shape.
 */
export function sqlString(value: string): string {
  if (value.includes("\u0000")) throw new RangeError("NUL characters cannot appear in a Lance filter value");
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return String(value);
}
