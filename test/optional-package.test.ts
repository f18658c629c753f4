import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, test } from "vitest";
import { isMissingPackage } from "../src/optional-package.js";
import { pinnedPeer } from "../src/version.js";
import packageJson from "../package.json" with { type: "json" };
import { useTempDirs } from "./helpers/tmp.js";

const tmp = useTempDirs();

/** A folder whose node_modules holds `outer`, an installed package that imports `inner`, which is not installed. */
function brokenInstall(): string {
  const dir = tmp();
  const outer = join(dir, "node_modules", "outer");
  mkdirSync(outer, { recursive: true });
  writeFileSync(join(outer, "package.json"), JSON.stringify({ name: "outer", version: "1.0.0", main: "index.cjs", exports: { import: "./index.mjs", require: "./index.cjs" } }));
  writeFileSync(join(outer, "index.mjs"), 'export * from "inner";\n');
  writeFileSync(join(outer, "index.cjs"), 'module.exports = require("inner");\n');
  writeFileSync(join(dir, "importer.mjs"), 'export default () => import("outer");\n');
  return dir;
}

test("a package that is not installed is told apart from a module missing inside an installed one, through import and require", async () => {
  const dir = brokenInstall();
  const importer = (await import(pathToFileURL(join(dir, "importer.mjs")).href)) as { default: () => Promise<unknown> };
  const viaImport = await importer.default().then(
    () => null,
    (error: unknown) => error,
  );
  const requireHere = createRequire(join(dir, "importer.cjs"));
  const viaRequire = (() => {
    try {
      requireHere("outer");
      return null;
    } catch (error) {
      return error;
    }
  })();
  for (const error of [viaImport, viaRequire]) {
    // "inner" is what is missing; "outer" is installed, and appears in the message only as the importer's path.
    expect(isMissingPackage(error, "inner")).toBe(true);
    expect(isMissingPackage(error, "outer")).toBe(false);
  }
  const absent = await import("retrieval-mcp-test-no-such-package" as string).then(
    () => null,
    (error: unknown) => error,
  );
  expect(isMissingPackage(absent, "retrieval-mcp-test-no-such-package")).toBe(true);
  expect(isMissingPackage(new Error("Cannot find package 'inner'"), "inner")).toBe(false);
});

test("install hints name each optional package at the version package.json pins, and only optional peers", () => {
  for (const [name, version] of Object.entries(packageJson.peerDependencies)) expect(pinnedPeer(name)).toBe(`${name}@${version}`);
  expect(() => pinnedPeer("zod")).toThrow(/zod is not among package.json's peerDependencies/);
});
