/** A test collection as the harness uses it, whatever format it came from. */
export interface EvalDocument {
  id: string;
  /** Title and body joined: what is indexed and what the reference BM25 scores. */
  text: string;
}

export interface EvalQuery {
  id: string;
  text: string;
}

/** Query id -> judged document id -> gain; a gain of 0 is a judged non-relevant document. */
export type Qrels = Map<string, Map<string, number>>;

export interface EvalCollection {
  name: string;
  documents: EvalDocument[];
  /** Only queries with at least one relevant (gain > 0) judgment: the others have no defined nDCG. */
  queries: EvalQuery[];
  qrels: Qrels;
  /** Documents left out because they hold no text (the store refuses empty chunks). */
  skippedEmpty: string[];
  /** Queries left out because nothing is judged relevant for them. */
  unjudgedQueries: number;
}

export function joinTitle(title: string | undefined, body: string): string {
  return [title?.trim() ?? "", body.trim()].filter((part) => part !== "").join("\n");
}

export function addJudgment(qrels: Qrels, queryId: string, docId: string, gain: number): void {
  let judged = qrels.get(queryId);
  if (!judged) qrels.set(queryId, (judged = new Map()));
  judged.set(docId, gain);
}

/** Drops empty documents and unjudged queries, counting both so the report can say so. */
export function assemble(name: string, documents: EvalDocument[], queries: EvalQuery[], qrels: Qrels): EvalCollection {
  const judged = queries.filter((q) => [...(qrels.get(q.id)?.values() ?? [])].some((gain) => gain > 0));
  return {
    name,
    documents: documents.filter((d) => d.text !== ""),
    queries: judged,
    qrels,
    skippedEmpty: documents.filter((d) => d.text === "").map((d) => d.id),
    unjudgedQueries: queries.length - judged.length,
  };
}
