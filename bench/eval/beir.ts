import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { addJudgment, assemble, joinTitle, type EvalCollection, type Qrels } from "./collection.js";

/** BEIR keeps the test qrels in `qrels/test.tsv`; some exports (SciFact here) flatten it to `qrels_test.tsv`. */
const QRELS_CANDIDATES = ["qrels/test.tsv", "qrels_test.tsv"];

export function beirFiles(dir: string): string[] {
  const qrels = QRELS_CANDIDATES.find((f) => existsSync(join(dir, f))) ?? QRELS_CANDIDATES.join(" or ");
  return ["corpus.jsonl", "queries.jsonl", qrels];
}

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split(/\r?\n/)
    .flatMap((line, i) => {
      if (line.trim() === "") return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch (error) {
        throw new Error(`${path}:${i + 1}: not a JSON line (${error instanceof Error ? error.message : String(error)})`);
      }
    });
}

function field(row: Record<string, unknown>, name: string, path: string): string {
  const value = row[name];
  if (typeof value === "string") return value;
  if (name === "title" && value === undefined) return "";
  throw new Error(`${path}: a line has no string "${name}": ${JSON.stringify(row).slice(0, 200)}`);
}

/** `query-id<TAB>corpus-id<TAB>score`; the header line is optional (the msmarco export has none). */
export function parseQrels(source: string, path: string): Qrels {
  const qrels: Qrels = new Map();
  source.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const [query, doc, score, ...rest] = line.split("\t");
    if (i === 0 && query === "query-id") return;
    const gain = Number(score);
    if (doc === undefined || rest.length > 0 || score === undefined || score.trim() === "" || !Number.isFinite(gain)) {
      throw new Error(`${path}:${i + 1}: expected "query-id<TAB>corpus-id<TAB>score", got ${JSON.stringify(line)}`);
    }
    addJudgment(qrels, query!, doc, Math.max(0, gain));
  });
  return qrels;
}

export function loadBeir(name: string, dir: string): EvalCollection {
  const [corpusPath, queriesPath, qrelsPath] = beirFiles(dir).map((f) => join(dir, f));
  const documents = readJsonl(corpusPath!).map((row) => ({ id: field(row, "_id", corpusPath!), text: joinTitle(field(row, "title", corpusPath!), field(row, "text", corpusPath!)) }));
  const queries = readJsonl(queriesPath!).map((row) => ({ id: field(row, "_id", queriesPath!), text: field(row, "text", queriesPath!) }));
  return assemble(name, documents, queries, parseQrels(readFileSync(qrelsPath!, "utf8"), qrelsPath!));
}
