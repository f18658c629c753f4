import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Mount {
  /** The mount point, or null when mounting is impossible here. */
  dir: string | null;
  /** Why not, for the name of the skipped tests. */
  reason: string;
  unmount(): void;
}

function tryMount(args: readonly string[], what: string): Mount {
  const dir = mkdtempSync(join(tmpdir(), "retrieval-mcp-mount-"));
  try {
    execFileSync("mount", [...args, dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = ((error as { stderr?: Buffer }).stderr?.toString() || (error as Error).message).trim();
    return { dir: null, reason: `cannot mount ${what} here (needs root and mount(8)): ${detail}`, unmount: () => undefined };
  }
  return {
    dir,
    reason: "",
    unmount() {
      // Lazy: a store a failed test left open must not keep the mount (and the test run) busy.
      execFileSync("umount", ["--lazy", dir], { stdio: "pipe" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A size-limited tmpfs, so a test can fill a disk without filling the machine's. */
export function mountSmallTmpfs(sizeMb: number): Mount {
  return tryMount(["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs"], `a ${sizeMb} MiB tmpfs`);
}

/** `source` again, read-only, at a new mount point: writes there fail with EROFS even for root. */
export function mountReadOnlyView(source: string): Mount {
  const view = tryMount(["--bind", source], "a bind mount");
  if (!view.dir) return view;
  try {
    execFileSync("mount", ["-o", "remount,ro,bind", view.dir], { stdio: "pipe" });
  } catch (error) {
    view.unmount();
    return { dir: null, reason: `cannot remount a bind mount read-only: ${(error as Error).message}`, unmount: () => undefined };
  }
  return view;
}
