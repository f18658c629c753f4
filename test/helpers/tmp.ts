import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach } from "vitest";
import { sharedTempDir } from "../../src/store/lance-scratch.js";

/** A fresh data directory per call, removed after the test; in the shared temp directory, where other users' processes can reach it. */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(sharedTempDir(), "retrieval-mcp-test-"));
    dirs.push(dir);
    return dir;
  };
}
