import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beirFiles, loadBeir } from "./beir.js";
import type { EvalCollection } from "./collection.js";
import { CRANFIELD_FILES, loadCranfield } from "./cranfield.js";

/** The shared data sits next to the repository and is read in place, never copied in. */
const SHARED = resolve(fileURLToPath(new URL("../../../shared", import.meta.url)));

interface Source {
  dir: string;
  files: () => readonly string[];
  load: () => EvalCollection;
}

const EVAL = join(SHARED, "eval");
const HOLDOUT = join(SHARED, "holdout");

const SOURCES: Record<string, Source> = {
  cranfield: { dir: join(EVAL, "cranfield"), files: () => CRANFIELD_FILES, load: () => loadCranfield(join(EVAL, "cranfield")) },
  msmarco: beir("msmarco", EVAL),
  dbpedia: beir("dbpedia", EVAL),
  // Held out: runnable to check what was tuned on ../shared/eval, never to tune on.
  scifact: beir("scifact", HOLDOUT),
};

function beir(name: string, root: string): Source {
  const dir = join(root, name);
  return { dir, files: () => beirFiles(dir), load: () => loadBeir(name, dir) };
}

export const COLLECTIONS = Object.keys(SOURCES);
/** What `--collection all` runs: the shared evaluation set, not the holdout. */
export const ALL_COLLECTIONS = ["cranfield", "msmarco", "dbpedia"];

export class MissingDataError extends Error {
  override readonly name = "MissingDataError";
}

/** Loads a collection, or explains which file is missing and where the data is expected. */
export function loadCollection(name: string): EvalCollection {
  const source = SOURCES[name];
  if (!source) throw new Error(`Unknown collection "${name}". Available: ${COLLECTIONS.join(", ")}, all.`);
  const missing = source.files().map((f) => join(source.dir, f)).filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new MissingDataError(
      `The ${name} collection is missing: ${missing.join(", ")} not found. ` +
        `The harness reads the shared test collections in place from ${dirname(source.dir)} (../shared next to the repository), ` +
        `never from a copy inside the repository.`,
    );
  }
  return source.load();
}
