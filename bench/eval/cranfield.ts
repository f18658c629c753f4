import { readFileSync } from "node:fs";
import { join } from "node:path";
import { addJudgment, assemble, joinTitle, type EvalCollection, type Qrels } from "./collection.js";

export interface SmartRecord {
  id: string;
  /** Field letter (T, A, B, W) -> text; a field given twice is joined, as the corrupt records 576 and 578 need. */
  fields: Map<string, string>;
}

const RECORD = /^\.I(?:\s+(\S+))?\s*$/;
const FIELD = /^\.([A-Z])\s*$/;

/**
 * SMART records: `.I <id>` starts one, `.T`/`.A`/`.B`/`.W` lines start its
 * fields. Both Cranfield files end with a bare `.I`, which closes the last
 * record and starts none.
 */
export function parseSmart(source: string, file: string): SmartRecord[] {
  const records: SmartRecord[] = [];
  let record: SmartRecord | null = null;
  let field: string | null = null;
  let bareLine = 0;
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const start = RECORD.exec(line);
    if (start) {
      field = null;
      record = start[1] === undefined ? null : { id: start[1], fields: new Map() };
      if (record) records.push(record);
      else bareLine = i + 1;
      continue;
    }
    const marker = FIELD.exec(line);
    if (marker && record) {
      field = marker[1]!;
      if (!record.fields.has(field)) record.fields.set(field, "");
      continue;
    }
    if (line.trim() === "") continue;
    if (!record || field === null) {
      const where = record ? `in record ${record.id} before any .T/.A/.B/.W field` : bareLine > 0 ? `after the bare .I on line ${bareLine}` : "before the first .I record";
      throw new Error(`${file}:${i + 1}: text ${where}; expected SMART records (.I <id>, then .T/.A/.B/.W fields)`);
    }
    const before = record.fields.get(field)!;
    record.fields.set(field, before === "" ? line.trim() : `${before}\n${line.trim()}`);
  }
  return records;
}

/**
 * `cranqrel` numbers queries 1..225 by their position in `cran.qry`, not by
 * their `.I` ids (001..365 with gaps). Code 1 is the most relevant, 4 the
 * least: gain = 5 - code; any other code is a judged non-relevant document.
 */
export function parseCranfield(files: { documents: string; queries: string; qrels: string }): EvalCollection {
  const documents = parseSmart(files.documents, "cran.all.1400").map((r) => ({ id: r.id, text: joinTitle(r.fields.get("T"), r.fields.get("W") ?? "") }));
  const queries = parseSmart(files.queries, "cran.qry").map((r, i) => ({ id: String(i + 1), text: r.fields.get("W") ?? "" }));
  const qrels: Qrels = new Map();
  files.qrels.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const [query, doc, code, ...rest] = line.trim().split(/\s+/);
    const position = Number(query);
    if (code === undefined || rest.length > 0 || !Number.isInteger(position) || !Number.isFinite(Number(code))) {
      throw new Error(`cranqrel:${i + 1}: expected "query doc code", got ${JSON.stringify(line)}`);
    }
    if (position < 1 || position > queries.length) {
      throw new Error(`cranqrel:${i + 1}: query ${position} does not exist; cran.qry holds ${queries.length} queries, numbered by position`);
    }
    const c = Number(code);
    addJudgment(qrels, String(position), doc!, c >= 1 && c <= 4 ? 5 - c : 0);
  });
  return assemble("cranfield", documents, queries, qrels);
}

export const CRANFIELD_FILES = ["cran.all.1400", "cran.qry", "cranqrel"] as const;

export function loadCranfield(dir: string): EvalCollection {
  const [documents, queries, qrels] = CRANFIELD_FILES.map((f) => readFileSync(join(dir, f), "utf8"));
  return parseCranfield({ documents: documents!, queries: queries!, qrels: qrels! });
}
