import { describe, expect, it } from "vitest";
import { chunkCode } from "../src/ingest/code-chunk.js";
import type { Grammar } from "../src/ingest/syntax.js";

/**
 * Source in one language, built from small top-level functions (each with a
 * comment above it) and one large definition whose members are listed
 * (a class, an impl block, a long function), as line arrays so the test
 * knows where every definition starts.
 */
interface Sample {
  grammar: Grammar;
  /** Lines before the first definition (imports, a package line). */
  prelude: string[];
  small: (n: number) => { lines: string[]; signature: string };
  /** The large definition: its header, members and footer. */
  large: { header: string[]; member: (n: number) => { lines: string[]; signature: string }; footer: string[]; signature: string };
  /** Everything sits inside one definition (Java's class): then the large one is the only top level. */
  onlyLarge?: boolean;
}

const SAMPLES: Record<string, Sample> = {
  TypeScript: {
    grammar: "typescript",
    prelude: ['import { readFile } from "node:fs/promises";', ""],
    small: (n) => ({ lines: [`// Scales by ${n}.`, `export function scale${n}(value: number): number {`, `  const factor = ${n} * 2;`, "  return value * factor;", "}"], signature: `export function scale${n}(value: number): number` }),
    large: {
      header: ["export class Registry {", "  private readonly items = new Map<string, number>();"],
      member: (n) => ({ lines: [`  lookup${n}(key: string): number | undefined {`, `    return this.items.get(key + "${n}");`, "  }"], signature: `lookup${n}(key: string): number | undefined` }),
      footer: ["}"],
      signature: "export class Registry",
    },
  },
  JavaScript: {
    grammar: "javascript",
    prelude: ['const fs = require("node:fs");', ""],
    small: (n) => ({ lines: [`/** Doubles ${n}. */`, `function double${n}(value) {`, `  return value * ${n} * 2;`, "}"], signature: `function double${n}(value)` }),
    large: {
      header: ["class Cache {"],
      member: (n) => ({ lines: [`  get${n}(key) {`, `    return this.store.get(key + "${n}");`, "  }"], signature: `get${n}(key)` }),
      footer: ["}"],
      signature: "class Cache",
    },
  },
  Python: {
    grammar: "python",
    prelude: ["import os", ""],
    small: (n) => ({ lines: [`# Scales by ${n}.`, `def scale_${n}(value):`, `    factor = ${n} * 2`, "    return value * factor"], signature: `def scale_${n}(value):` }),
    large: {
      header: ["class Registry:", '    """Holds items."""'],
      member: (n) => ({ lines: [`    def lookup_${n}(self, key):`, `        return self.items.get(key + "${n}")`], signature: `def lookup_${n}(self, key):` }),
      footer: [],
      signature: "class Registry:",
    },
  },
  Go: {
    grammar: "go",
    prelude: ["package main", "", 'import "fmt"', ""],
    small: (n) => ({ lines: [`// Scale${n} scales by ${n}.`, `func Scale${n}(value int) int {`, `\tfactor := ${n} * 2`, "\treturn value * factor", "}"], signature: `func Scale${n}(value int) int` }),
    large: {
      header: ["func Run() {"],
      member: (n) => ({ lines: [`\tif err := step${n}(); err != nil {`, `\t\tfmt.Println("step ${n} failed", err)`, "\t}"], signature: "" }),
      footer: ["}"],
      signature: "func Run()",
    },
  },
  Rust: {
    grammar: "rust",
    prelude: ["use std::collections::HashMap;", ""],
    small: (n) => ({ lines: [`/// Scales by ${n}.`, `pub fn scale_${n}(value: i64) -> i64 {`, `    let factor = ${n} * 2;`, "    value * factor", "}"], signature: `pub fn scale_${n}(value: i64) -> i64` }),
    large: {
      header: ["impl Registry {"],
      member: (n) => ({ lines: [`    pub fn lookup_${n}(&self, key: &str) -> Option<&i64> {`, `        self.items.get(&format!("{}{}", key, ${n}))`, "    }"], signature: `pub fn lookup_${n}(&self, key: &str) -> Option<&i64>` }),
      footer: ["}"],
      signature: "impl Registry",
    },
  },
  Java: {
    grammar: "java",
    prelude: ["package demo;", "", "import java.util.Map;", ""],
    small: () => ({ lines: [], signature: "" }),
    large: {
      header: ["public class Registry {", "    private final Map<String, Integer> items = new java.util.HashMap<>();"],
      member: (n) => ({ lines: [`    /** Looks up ${n}. */`, `    public Integer lookup${n}(String key) {`, `        return items.get(key + "${n}");`, "    }"], signature: `public Integer lookup${n}(String key)` }),
      footer: ["}"],
      signature: "public class Registry",
    },
    onlyLarge: true,
  },
  C: {
    grammar: "cpp",
    prelude: ["#include <stdio.h>", ""],
    small: (n) => ({ lines: [`/* Scales by ${n}. */`, `int scale_${n}(int value) {`, `  int factor = ${n} * 2;`, "  return value * factor;", "}"], signature: `int scale_${n}(int value)` }),
    large: {
      header: ["int run(void) {"],
      member: (n) => ({ lines: [`  if (step_${n}() != 0) {`, `    printf("step ${n} failed\\n");`, "  }"], signature: "" }),
      footer: ["}"],
      signature: "int run(void)",
    },
  },
  "C++": {
    grammar: "cpp",
    prelude: ["#include <map>", "#include <string>", ""],
    small: (n) => ({ lines: [`// Scales by ${n}.`, `int scale${n}(int value) {`, `  return value * ${n};`, "}"], signature: `int scale${n}(int value)` }),
    large: {
      header: ["class Registry {", " public:"],
      member: (n) => ({ lines: [`  int lookup${n}(const std::string& key) {`, `    return items[key + "${n}"];`, "  }"], signature: `int lookup${n}(const std::string& key)` }),
      footer: [" private:", "  std::map<std::string, int> items;", "};"],
      signature: "class Registry",
    },
  },
  Ruby: {
    grammar: "ruby",
    prelude: ["require 'json'", ""],
    small: (n) => ({ lines: [`# Scales by ${n}.`, `def scale_${n}(value)`, `  factor = ${n} * 2`, "  value * factor", "end"], signature: `def scale_${n}(value)` }),
    large: {
      header: ["class Registry"],
      member: (n) => ({ lines: [`  def lookup_${n}(key)`, `    @items.fetch(key + "${n}")`, "  end"], signature: `def lookup_${n}(key)` }),
      footer: ["end"],
      signature: "class Registry",
    },
  },
  shell: {
    grammar: "bash",
    prelude: ["#!/usr/bin/env bash", "set -euo pipefail", ""],
    small: (n) => ({ lines: [`# Prints step ${n}.`, `step_${n}() {`, `  echo "step ${n}"`, "  return 0", "}"], signature: `step_${n}()` }),
    large: {
      header: ["main() {"],
      member: (n) => ({ lines: [`  if ! step_${n}; then`, `    echo "step ${n} failed" >&2`, "  fi"], signature: "" }),
      footer: ["}"],
      signature: "main()",
    },
  },
};

interface Built {
  source: string;
  /** 0-based lines where a chunk may start: a top-level definition or its comment, or a member of the large one. */
  boundaries: Map<number, string>;
}

function build(sample: Sample, smallCount: number, memberCount: number): Built {
  const lines = [...sample.prelude];
  const boundaries = new Map<number, string>([[0, sample.small(0).signature]]);
  const add = (block: string[], heading: string) => {
    boundaries.set(lines.length, heading);
    lines.push(...block, "");
  };
  if (!sample.onlyLarge) for (let n = 0; n < smallCount; n++) add(sample.small(n).lines, sample.small(n).signature);
  boundaries.set(lines.length, sample.large.signature);
  lines.push(...sample.large.header);
  for (let n = 0; n < memberCount; n++) {
    const member = sample.large.member(n);
    const heading = member.signature === "" ? sample.large.signature : `${sample.large.signature} > ${member.signature}`;
    boundaries.set(lines.length, heading);
    lines.push(...member.lines);
    if (n < memberCount - 1) lines.push("");
  }
  lines.push(...sample.large.footer, "");
  return { source: lines.join("\n"), boundaries };
}

describe("code chunking", () => {
  it.each(Object.keys(SAMPLES))("%s: chunks are whole lines that break at definitions, and together hold every line", async (name) => {
    const sample = SAMPLES[name]!;
    const { source, boundaries } = build(sample, 14, 40);
    const chunks = await chunkCode(source, sample.grammar);
    expect(chunks.length).toBeGreaterThan(2);
    const lineStarts = [0];
    for (let i = 0; i < source.length; i++) if (source[i] === "\n") lineStarts.push(i + 1);
    const lineOf = (offset: number) => lineStarts.findLastIndex((start) => start <= offset);
    let covered = 0;
    for (const chunk of chunks) {
      expect(chunk.text).toBe(source.slice(chunk.start, chunk.end));
      expect(chunk.text.length).toBeLessThanOrEqual(1500);
      // Never in the middle of a line.
      expect(chunk.start === 0 || source[chunk.start - 1] === "\n", JSON.stringify(chunk.text.slice(0, 40))).toBe(true);
      expect(chunk.end === source.length || source[chunk.end] === "\n").toBe(true);
      const first = lineOf(chunk.start);
      expect(boundaries.has(first), `${name} chunk starts on line ${first + 1}: ${JSON.stringify(source.split("\n")[first])}`).toBe(true);
      covered += chunk.text.split("\n").filter((l) => l.trim() !== "").length;
    }
    expect(covered).toBe(source.split("\n").filter((l) => l.trim() !== "").length);
    expect(chunks.some((c) => c.start > source.indexOf(sample.large.header[0]!))).toBe(true);
  });

  it.each(Object.keys(SAMPLES))("%s: a chunk's heading is the signature of the definition it starts in, within the enclosing one", async (name) => {
    const sample = SAMPLES[name]!;
    const { source, boundaries } = build(sample, 14, 40);
    const lineStarts = [0];
    for (let i = 0; i < source.length; i++) if (source[i] === "\n") lineStarts.push(i + 1);
    for (const chunk of await chunkCode(source, sample.grammar)) {
      const first = lineStarts.findLastIndex((start) => start <= chunk.start);
      const expected = boundaries.get(first) || null;
      // The first chunk opens with the prelude: its heading is that of the first definition after it.
      if (first === 0) continue;
      expect(chunk.heading).toBe(expected);
    }
  });

  it("keeps a small file whole and splits a file without a grammar at blank lines only", async () => {
    expect(await chunkCode("def f():\n    return 1\n", "python")).toEqual([{ text: "def f():\n    return 1", start: 0, end: 21, heading: "def f():" }]);
    const paragraphs = Array.from({ length: 80 }, (_, i) => `fun f${i}() {\n  val x = ${i}\n  return x\n}`);
    const source = paragraphs.join("\n\n");
    const chunks = await chunkCode(source, null);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(chunk.text.startsWith("fun f")).toBe(true);
      expect(chunk.text.endsWith("}")).toBe(true);
      expect(chunk.heading).toBeNull();
    }
  });

  it("cuts only a line longer than a chunk (minified code), and only that line", async () => {
    const minified = `var a=${"1+".repeat(2000)}1;`;
    const source = `function before() {\n  return 1;\n}\n\n${minified}\n\nfunction after() {\n  return 2;\n}\n`;
    const chunks = await chunkCode(source, "javascript");
    const long = chunks.filter((c) => minified.includes(c.text));
    expect(long.map((c) => c.text).join("")).toBe(minified);
    expect(long.length).toBeGreaterThan(2);
    expect(chunks.filter((c) => !minified.includes(c.text)).map((c) => c.text)).toEqual(["function before() {\n  return 1;\n}", "function after() {\n  return 2;\n}"]);
  });
});
