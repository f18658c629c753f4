import { DEFAULT_COLLECTION } from "../store/paths.js";

/** read: search and fetch; write: also index and delete. */
export type Scope = "read" | "write";

/** What one client may do: decided by its credentials, fixed for its MCP session. */
export interface Access {
  /** Who this is, for logs: a token's name, an OAuth subject. */
  principal: string;
  scope: Scope;
  /** The collections it may see and change; null: every collection. */
  collections: readonly string[] | null;
}

/** stdio, and HTTP with one shared token: whoever can reach the server owns the store. */
export const FULL_ACCESS: Access = { principal: "local", scope: "write", collections: null };

/** A call the client's credentials do not allow; the message says what they do allow. */
export class AccessError extends Error {
  override readonly name = "AccessError";
}

export function canSee(access: Access, collection: string): boolean {
  return access.collections === null || access.collections.includes(collection);
}

/** Refuses a collection outside the client's set, naming the ones it may use. */
export function assertCollection(access: Access, collection: string | undefined, what = "collection"): void {
  const name = collection ?? DEFAULT_COLLECTION;
  if (canSee(access, name)) return;
  throw new AccessError(
    `${what} ${JSON.stringify(name)} is outside what these credentials (${access.principal}) may use; they allow the collections ${access.collections!.map((c) => JSON.stringify(c)).join(", ")}.`,
  );
}

/** The same client, as far as a session cares: a request on a session must carry the credentials that opened it. */
export function sameAccess(a: Access, b: Access): boolean {
  return a.principal === b.principal && a.scope === b.scope && JSON.stringify(a.collections) === JSON.stringify(b.collections);
}
