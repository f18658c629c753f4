import type { z } from "zod";

type Issue = z.core.$ZodIssue;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `chunks[3].text`, `metadata["a b"]`: the field as a person would write it. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    const name = String(key);
    if (!IDENTIFIER.test(name)) return `${out}[${JSON.stringify(name)}]`;
    return out === "" ? name : `${out}.${name}`;
  }, "");
}

const withArticle = (word: string) => `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;

/** zod's own wording ("Invalid input: expected number, received string") reads as a log line; these read as advice. */
function defaultWording(issue: Issue, field: string): string | null {
  const wording = issue.message;
  switch (issue.code) {
    case "invalid_type": {
      if (!wording.startsWith("Invalid input")) return null;
      const received = /received (\w+)/.exec(wording)?.[1];
      if (received === "undefined") return `${field} is required (${withArticle(issue.expected)})`;
      return `${field} must be ${withArticle(issue.expected)}${received ? `, not ${withArticle(received)}` : ""}`;
    }
    case "unrecognized_keys": {
      const names = issue.keys.map((k) => JSON.stringify(k)).join(", ");
      return `${issue.keys.length === 1 ? "unknown field" : "unknown fields"} ${names}${field === "the input" ? "" : ` in ${field}`}; remove ${issue.keys.length === 1 ? "it" : "them"} or check the spelling`;
    }
    case "too_small":
    case "too_big": {
      if (!/^Too (small|big)/.test(wording)) return null;
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const relation = issue.code === "too_small" ? (issue.inclusive ? "at least" : "more than") : issue.inclusive ? "at most" : "less than";
      const unit = issue.origin === "string" ? " characters" : issue.origin === "array" ? " items" : "";
      return `${field} must be ${relation} ${String(bound)}${unit}`;
    }
    default:
      return null;
  }
}

/**
 * One issue as a sentence that names the field: "k must be at least 1.",
 * "chunks[3].text must not be empty.", "In filter.year: a filter condition
 * needs at least one operator." Never a trailing "at <path>".
 */
export function issueSentence(issue: Issue): string {
  const field = issue.path.length > 0 ? fieldPath(issue.path) : "the input";
  const leaf = issue.path.at(-1);
  let text = defaultWording(issue, field);
  if (text === null) {
    const message = issue.message;
    if (issue.path.length === 0) text = message;
    // Our own messages start with the field's name ("text must not be empty"): name the full path instead.
    else if (typeof leaf === "string" && message.startsWith(`${leaf} `)) text = `${field}${message.slice(leaf.length)}`;
    else text = `In ${field}: ${message}`;
  }
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export function issueSentences(error: z.ZodError): string {
  return error.issues.map(issueSentence).join(" ");
}
