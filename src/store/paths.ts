import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_COLLECTION = "default";

export interface DataPaths {
  root: string;
  metadataDb: string;
  lanceDir: string;
  writerLock: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    metadataDb: join(root, "metadata.db"),
    lanceDir: join(root, "lance"),
    writerLock: join(root, "lance.lock"),
  };
}

/** The per-user application-data folder, by platform convention. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return join(env.LOCALAPPDATA ?? env.APPDATA ?? join(homedir(), "AppData", "Local"), "retrieval-mcp");
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", "retrieval-mcp");
  return join(env.XDG_DATA_HOME ?? join(homedir(), ".local", "share"), "retrieval-mcp");
}
