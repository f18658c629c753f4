import { z } from "zod";
import { issueSentences } from "../text/issues.js";
import { StoreError } from "./errors.js";

/** Limits of the public contract (the tool inputs in README.md and docs/ARCHITECTURE.md), shared by the store and the MCP tools. */
export const LIMITS = {
  textBytes: 1024 * 1024,
  chunkIdChars: 256,
  collectionChars: 64,
  docIdChars: 1024,
  metadataKeys: 64,
  metadataKeyChars: 128,
  metadataStringBytes: 8 * 1024,
  metadataArrayItems: 256,
  maxK: 50,
  batchSize: 1000,
} as const;

// C0, DEL and C1 control characters: they break logs, terminals and Lance filters.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const identifier = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((s) => !CONTROL.test(s), `${what} must not contain control characters (newlines, tabs, NUL, ...)`);

export const ChunkId = identifier("chunk_id", LIMITS.chunkIdChars);
export const DocId = identifier("doc_id", LIMITS.docIdChars);
export const Collection = identifier("collection", LIMITS.collectionChars);

export const ChunkText = z
  .string()
  .min(1, "text must not be empty")
  .refine((s) => Buffer.byteLength(s, "utf8") <= LIMITS.textBytes, `text must be at most 1 MiB (${LIMITS.textBytes} bytes of UTF-8); split it into smaller chunks`);

const MetadataScalar = z.union([
  z.string().refine((s) => Buffer.byteLength(s, "utf8") <= LIMITS.metadataStringBytes, "metadata strings must be at most 8 KiB"),
  z.number().refine(Number.isFinite, "metadata numbers must be finite"),
  z.boolean(),
  z.null(),
]);
const MetadataValue = z.union([MetadataScalar, z.array(z.string()).max(LIMITS.metadataArrayItems, `metadata lists hold at most ${LIMITS.metadataArrayItems} strings`)], {
  error: "metadata values must be a string, number, boolean, null or a list of strings; nested objects are not allowed",
});

/** Replaces zod's message only for a value of the wrong type, keeping the specific messages of keys and values. */
const wrongType = (message: string) => (issue: { code?: string }) => (issue.code === "invalid_type" ? message : undefined);

export const Metadata = z
  .record(identifier("metadata key", LIMITS.metadataKeyChars), MetadataValue, {
    error: wrongType("metadata must be a flat JSON object whose values are strings, numbers, booleans, null or lists of strings"),
  })
  .refine((m) => Object.keys(m).length <= LIMITS.metadataKeys, `metadata holds at most ${LIMITS.metadataKeys} keys`);
export type Metadata = z.infer<typeof Metadata>;

export const IndexInput = z.object({
  text: ChunkText,
  chunk_id: ChunkId.optional(),
  doc_id: DocId.optional(),
  collection: Collection.optional(),
  metadata: Metadata.optional(),
});
export type IndexInput = z.infer<typeof IndexInput>;

const FilterScalar = z.union([z.string(), z.number().refine(Number.isFinite, "filter numbers must be finite"), z.boolean(), z.null()], {
  error: "filter values must be a string, number, boolean or null",
});
const FilterList = z.array(FilterScalar).min(1, "a filter list needs at least one value").max(1000, "a filter list holds at most 1,000 values");
const RangeBound = z.union([z.number().refine(Number.isFinite, "range bounds must be finite"), z.string()], {
  error: "range bounds must be numbers, or strings such as ISO dates (compared as text)",
});
const TagList = z.array(z.string()).min(1, "a tag list needs at least one tag").max(1000);
export const FilterCondition = z
  .strictObject(
    {
      eq: FilterScalar.optional(),
      ne: FilterScalar.optional(),
      in: FilterList.optional(),
      nin: FilterList.optional(),
      gt: RangeBound.optional(),
      gte: RangeBound.optional(),
      lt: RangeBound.optional(),
      lte: RangeBound.optional(),
      exists: z.boolean().optional(),
      contains: z.string().optional(),
      contains_all: TagList.optional(),
      contains_any: TagList.optional(),
    },
    { error: "a filter condition takes only eq, ne, in, nin, gt, gte, lt, lte, exists, contains, contains_all, contains_any" },
  )
  .refine((c) => Object.keys(c).length > 0, "a filter condition needs at least one operator, e.g. {\"gte\": 2020}");
export type FilterCondition = z.infer<typeof FilterCondition>;
export type FilterScalar = z.infer<typeof FilterScalar>;

/**
 * Metadata filters: a key maps to a value (equality; for a list-valued
 * field, membership), a list of values (any of them), or a condition
 * object. All keys must match.
 */
export const Filter = z
  .record(identifier("filter key", LIMITS.metadataKeyChars), z.union([FilterScalar, FilterList, FilterCondition]), {
    error: wrongType("filter must map metadata keys to a value, a list of values, or a condition such as {\"gte\": 2020}"),
  })
  .refine((f) => Object.keys(f).length <= 32, "a filter holds at most 32 keys");
export type Filter = z.infer<typeof Filter>;

export const SEARCH_MODES = ["hybrid", "vector", "keyword"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

export const SearchInput = z.object({
  query: z.string().refine((s) => s.trim().length > 0, "query must contain some text").refine((s) => Buffer.byteLength(s, "utf8") <= LIMITS.textBytes, "query must be at most 1 MiB"),
  k: z.number().int("k must be a whole number").min(1, "k must be at least 1").max(LIMITS.maxK, `k must be at most ${LIMITS.maxK}`).default(5),
  collection: Collection.optional(),
  doc_id: DocId.optional(),
  filter: Filter.optional(),
  mode: z.enum(SEARCH_MODES, { error: `mode must be one of ${SEARCH_MODES.join(", ")}` }).default("hybrid"),
  min_score: z.number().refine(Number.isFinite, "min_score must be a finite number").optional(),
  max_chars: z.number().int().min(1).max(LIMITS.textBytes).optional(),
});
export type SearchInput = z.input<typeof SearchInput>;

interface ChunkSelector {
  chunk_id?: string;
  chunk_ids?: string[];
  doc_id?: string;
  collection?: string;
}

/**
 * Chunks are picked by exactly one of chunk_id, chunk_ids or doc_id, and
 * collection only narrows a doc_id: shared by delete and get, in the store
 * and in the tools, so the rule and its wording stay one.
 */
export function selectingChunks<S extends z.ZodType<ChunkSelector>>(schema: S, action: string): S {
  return schema
    .refine((d) => [d.chunk_id, d.chunk_ids, d.doc_id].filter((x) => x !== undefined).length === 1, {
      message: "give exactly one of chunk_id, chunk_ids or doc_id",
    })
    .refine((d) => d.collection === undefined || d.doc_id !== undefined, {
      message: `collection only narrows a doc_id ${action}; use it together with doc_id`,
    });
}

export const DeleteInput = selectingChunks(
  z.object({
    chunk_id: ChunkId.optional(),
    chunk_ids: z.array(ChunkId).min(1, "chunk_ids must list at least one id").max(10_000, "delete at most 10,000 ids per call").optional(),
    doc_id: DocId.optional(),
    collection: Collection.optional(),
  }),
  "delete",
);
export type DeleteInput = z.infer<typeof DeleteInput>;

/** One sentence per problem, each naming the field: what a person needs to fix the call. */
export { issueSentences as describeIssues };

/** Validates input against a schema, or throws an `invalid_input` StoreError naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new StoreError("invalid_input", issueSentences(parsed.error));
  return parsed.data;
}
