import type { ToolExtra } from "./context.js";

export interface ProgressReporter {
  /** Absent when the client asked for no progress. */
  onProgress?: (done: number, total: number) => void;
  /** Waits until every notification sent is out. */
  flush: () => Promise<void>;
}

/**
 * Relays progress as MCP progress notifications when the client asked for
 * them (a progressToken). The spec requires progress to increase, so
 * repeats are dropped. `unit` names what is counted ("chunks indexed").
 */
export function progressReporter(extra: ToolExtra, unit: string): ProgressReporter {
  const token = extra._meta?.progressToken;
  const sent: Promise<void>[] = [];
  const flush = async () => void (await Promise.all(sent));
  if (token === undefined) return { flush };
  let last = -1;
  return {
    onProgress(done, total) {
      if (done <= last) return;
      last = done;
      sent.push(
        extra
          .sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: done, total, message: `${done} of ${total} ${unit}` } })
          // A client that went away cannot be told; the work itself must not fail for it.
          .catch(() => undefined),
      );
    },
    flush,
  };
}
