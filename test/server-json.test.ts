import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

/**
 * schemas/server.schema.json is the MCP registry's published schema for
 * server.json, 2025-12-11, kept byte for byte (its SHA-256 is pinned here,
 * so a change to the copy is a deliberate one).
 */
const SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0";
const SCHEMA_ID = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

// ajv-formats is CommonJS: under Node's ESM loader its function is the module's default export.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv;

describe("server.json for the MCP registry", () => {
  const schemaText = read("schemas/server.schema.json");
  const serverJson = JSON.parse(read("server.json")) as Record<string, any>;
  const pkg = JSON.parse(read("package.json")) as Record<string, any>;

  it("is checked against an unaltered copy of the registry's published schema", () => {
    expect(createHash("sha256").update(schemaText).digest("hex")).toBe(SCHEMA_SHA256);
    expect(JSON.parse(schemaText).$id).toBe(SCHEMA_ID);
    expect(serverJson.$schema).toBe(SCHEMA_ID);
  });

  it("validates against that schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(schemaText));
    const valid = validate(serverJson);
    expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
    expect(valid).toBe(true);
    // The check can fail: a description over the registry's 100 characters is refused.
    expect(validate({ ...serverJson, description: "x".repeat(101) })).toBe(false);
  });

  it("names the npm package as package.json does, which carries the same mcpName", () => {
    expect(serverJson.name).toBe(pkg.mcpName);
    expect(serverJson.version).toBe(pkg.version);
    expect(serverJson.packages).toEqual([expect.objectContaining({ registryType: "npm", identifier: pkg.name, version: pkg.version, transport: { type: "stdio" } })]);
  });
});
