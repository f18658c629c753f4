/** Markdown tables, so the output pastes into the README and issue notes as is. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = headers.map((_, c) => rows.every((r) => /^[\d.,x×%-]+$|^—$/.test(r[c] ?? "")));
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(right.map((r) => (r ? "---:" : "---"))), ...rows.map(line)].join("\n");
}

export const int = (n: number): string => Math.round(n).toLocaleString("en-US");
export const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString("en-US"));
export const seconds = (msValue: number): string => (msValue / 1000).toFixed(1);
export const ratio = (n: number): string => `${n < 0.1 ? n.toPrecision(2) : n.toFixed(2)}x`;
export const fraction = (n: number): string => n.toFixed(3);
