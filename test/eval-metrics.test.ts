import { describe, expect, it } from "vitest";
import { parseQrels } from "../bench/eval/beir.js";
import { Bm25, tokenize } from "../bench/eval/bm25.js";
import { parseCranfield, parseSmart } from "../bench/eval/cranfield.js";
import { meanMetrics, scoreRanking } from "../bench/eval/metrics.js";
import { porterStem } from "../bench/eval/porter.js";

describe("scoreRanking", () => {
  const judged = new Map([
    ["a", 3],
    ["b", 2],
    ["c", 0],
    ["d", 1],
  ]);

  it("discounts graded gains by log2(rank + 1) against the ideal order of every judged relevant document", () => {
    // DCG = 3/log2(3) (a at rank 2) + 1/log2(5) (d at rank 4) = 1.892789 + 0.430677;
    // IDCG = 3/1 + 2/log2(3) + 1/log2(4) = 4.761860 (b counts although never retrieved).
    const m = scoreRanking(["c", "a", "x", "d"], judged, 10);
    expect(m.ndcg).toBeCloseTo(0.4879325, 6);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.reciprocalRank).toBe(1 / 2);
  });

  it("ignores everything past the cut-off and cuts the ideal ranking too", () => {
    expect(scoreRanking(["x", "y", "a"], judged, 2)).toEqual({ ndcg: 0, recall: 0, reciprocalRank: 0 });
    // DCG@1 = 2 (b), IDCG@1 = 3 (a).
    const m = scoreRanking(["b", "a"], judged, 1);
    expect(m.ndcg).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(1 / 3, 12);
    expect(m.reciprocalRank).toBe(1);
  });

  it("gives 1 to the ideal ranking and treats a judged gain of 0 as not relevant", () => {
    expect(scoreRanking(["a", "b", "d"], judged, 10)).toEqual({ ndcg: 1, recall: 1, reciprocalRank: 1 });
    expect(scoreRanking(["c"], judged, 10)).toEqual({ ndcg: 0, recall: 0, reciprocalRank: 0 });
  });

  it("refuses a query without relevant judgments instead of inventing a score", () => {
    expect(() => scoreRanking(["c"], new Map([["c", 0]]), 10)).toThrow(/at least one relevant/);
  });

  it("averages per-query metrics", () => {
    const mean = meanMetrics([
      { ndcg: 1, recall: 0.5, reciprocalRank: 1 },
      { ndcg: 0, recall: 0, reciprocalRank: 0.25 },
    ]);
    expect(mean).toEqual({ ndcg: 0.5, recall: 0.25, reciprocalRank: 0.625 });
  });
});

describe("Cranfield (SMART) parsing", () => {
  // The traps of the real files: CRLF query file, query .I numbers with gaps
  // (001, 004, 009) while cranqrel numbers them 1, 2, 3 by position, a bare
  // .I at the end of both files, a document with empty fields, a field given
  // twice, codes 1..4 plus -1.
  const documents = [
    ".I 1",
    ".T",
    "lift of wings .",
    ".A",
    "smith, j.",
    ".B",
    "j. ae. scs. 25, 1958",
    ".W",
    "lift of wings .",
    "  wings lift at mach 2 .",
    ".I 2",
    ".T",
    ".A",
    ".B",
    ".W",
    ".I 3",
    ".T",
    "boundary layer heat .",
    ".W",
    "heat in the",
    ".W",
    "boundary layer .",
    ".I",
    "",
  ].join("\n");
  const queries = [".I 001", ".W", "what is the lift of a wing .", ".I 004", ".W", "how hot is the", "boundary layer .", ".I 009", ".W", "anything else .", ".I", ""].join(
    "\r\n",
  );
  const qrels = ["1 1 2", "1 3 4", "2 3 1", "2 1 -1", "3 1 -1", ""].join("\n");

  it("numbers queries by position, maps code to gain 5 - code and any other code to 0", () => {
    const c = parseCranfield({ documents, queries, qrels });
    expect(c.queries).toEqual([
      { id: "1", text: "what is the lift of a wing ." },
      { id: "2", text: "how hot is the\nboundary layer ." },
    ]);
    expect(c.unjudgedQueries).toBe(1);
    expect(c.qrels.get("1")).toEqual(new Map([["1", 3], ["3", 1]]));
    expect(c.qrels.get("2")).toEqual(new Map([["3", 4], ["1", 0]]));
    expect(c.qrels.get("3")).toEqual(new Map([["1", 0]]));
  });

  it("indexes title and text, leaves out authors, sources and empty documents, and joins a repeated field", () => {
    const c = parseCranfield({ documents, queries, qrels });
    expect(c.documents).toEqual([
      { id: "1", text: "lift of wings .\nlift of wings .\nwings lift at mach 2 ." },
      { id: "3", text: "boundary layer heat .\nheat in the\nboundary layer ." },
    ]);
    expect(c.skippedEmpty).toEqual(["2"]);
  });

  it("lets the trailing bare .I close the last record without starting another", () => {
    expect(parseSmart(documents, "docs").map((r) => r.id)).toEqual(["1", "2", "3"]);
    expect(() => parseSmart(".I 1\n.W\nok\n.I\nstray text\n", "docs")).toThrow(/docs:5: text after the bare \.I on line 4/);
  });

  it("rejects a judgment for a query position the query file does not have", () => {
    expect(() => parseCranfield({ documents, queries, qrels: "4 1 1\n" })).toThrow(/query 4 does not exist; cran.qry holds 3 queries/);
  });
});

describe("BEIR qrels", () => {
  it("reads the file with or without its header line and keeps gain 0 as a judged non-relevant document", () => {
    const withHeader = parseQrels("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n", "test.tsv");
    const without = parseQrels("q1\td1\t2\nq1\td2\t0\n", "test.tsv");
    expect(withHeader).toEqual(new Map([["q1", new Map([["d1", 2], ["d2", 0]])]]));
    expect(without).toEqual(withHeader);
    expect(() => parseQrels("q1 d1 2\n", "test.tsv")).toThrow(/test.tsv:1: expected/);
  });
});

describe("reference BM25", () => {
  it("stems with Porter's rules", () => {
    expect(["caresses", "ponies", "motoring", "hopping", "relational", "generalizations", "oscillators", "adoption", "controll", "sky"].map(porterStem)).toEqual([
      "caress",
      "poni",
      "motor",
      "hop",
      "relat",
      "gener",
      "oscil",
      "adopt",
      "control",
      "sky",
    ]);
  });

  it("tokenises lowercase letters and digits, drops stopwords and stems", () => {
    expect(tokenize("The Cats' flow at Mach-2, what's THAT?")).toEqual(["cat", "flow", "mach", "2"]);
  });

  // Tokens: d1 [cat, sat] (2), d2 [cat, dog, chase, cat] (4), d3 [dog] (1); N = 3, avgdl = 7/3.
  // idf(cat) = idf(dog) = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700036.
  // score = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 0.9, b = 0.4.
  const bm25 = new Bm25([
    { id: "d1", text: "The cat sat" },
    { id: "d2", text: "Cats and dogs chase the cat" },
    { id: "d3", text: "A dog" },
  ]);

  it("scores a term by tf saturation and length normalisation", () => {
    // d2: 0.4700036 * 2 * 1.9 / (2 + 0.9 * (0.6 + 0.4 * 4 / (7/3))) = 0.5657057
    // d1: 0.4700036 * 1 * 1.9 / (1 + 0.9 * (0.6 + 0.4 * 2 / (7/3))) = 0.4830795
    const hits = bm25.search("cat", 10);
    expect(hits.map((h) => h.id)).toEqual(["d2", "d1"]);
    expect(hits[0]!.score).toBeCloseTo(0.5657057, 6);
    expect(hits[1]!.score).toBeCloseTo(0.4830795, 6);
  });

  it("prefers the short document for the same term count and skips unknown terms", () => {
    // d3: 0.4700036 * 1.9 / (1 + 0.9 * (0.6 + 0.4 * 1 / (7/3))) = 0.5270698
    // d2: 0.4700036 * 1.9 / (1 + 0.9 * (0.6 + 0.4 * 4 / (7/3))) = 0.4139767
    const hits = bm25.search("dogs and birds", 10);
    expect(hits.map((h) => h.id)).toEqual(["d3", "d2"]);
    expect(hits[0]!.score).toBeCloseTo(0.5270698, 6);
    expect(hits[1]!.score).toBeCloseTo(0.4139767, 6);
    expect(bm25.search("the", 10)).toEqual([]);
    expect(bm25.search("cat", 1).map((h) => h.id)).toEqual(["d2"]);
  });
});
