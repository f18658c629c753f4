/**
 * Errors a caller can act on. `code` is stable for programs; `message`
 * says what went wrong and what to do, for people.
 */
export type StoreErrorCode =
  | "invalid_input"
  | "not_found"
  | "model_mismatch"
  | "embedder_failed"
  | "model_loading"
  | "vector_invalid"
  | "lance_write_failed"
  | "lance_corrupt"
  | "migration_failed"
  | "disk_full"
  | "permission_denied"
  | "read_only"
  | "data_dir_invalid"
  | "vectors_unavailable"
  | "closed"
  | "aborted";

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of any thrown value, without a trailing period, so it can be embedded in a sentence. */
export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\.\s*$/, "");
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: string }).code === "ABORT_ERR");
}
