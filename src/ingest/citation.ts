import type { Metadata } from "../store/schemas.js";

/**
 * Where an ingested chunk came from, for people reading results: "lines
 * 12-30", "page 4", then "§ Install > Linux"; with `source`, the file
 * first. Null for chunks without citation metadata (indexed by hand).
 */
export function citation(metadata: Metadata, options: { source: boolean }): string | null {
  const { source, line_start: first, line_end: last, page, heading } = metadata;
  const parts: string[] = [];
  if (options.source && typeof source === "string") parts.push(source);
  if (typeof first === "number") parts.push(typeof last === "number" && last !== first ? `lines ${first}-${last}` : `line ${first}`);
  if (typeof page === "number") parts.push(`page ${page}`);
  if (typeof heading === "string" && heading !== "") parts.push(`§ ${heading}`);
  return parts.length > 0 ? parts.join(", ") : null;
}
