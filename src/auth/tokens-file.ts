import { readFileSync } from "node:fs";
import { z } from "zod";
import { Collection } from "../store/schemas.js";
import { issueSentences } from "../text/issues.js";
import { count } from "../text/plural.js";
import type { Access } from "./access.js";
import { bearerToken, digestsEqual, sha256, unauthorized, type Authenticator } from "./authenticator.js";

const TokenEntry = z.strictObject({
  name: z.string().min(1, "name must not be empty").max(128, "name must be at most 128 characters"),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "sha256 must be the 64 hex digits of the token's SHA-256 (e.g. `printf %s \"$TOKEN\" | sha256sum`), never the token itself"),
  scope: z.enum(["read", "write"], { error: 'scope must be "read" or "write"' }),
  collections: z.array(Collection).min(1, "collections must list at least one collection; leave it out for all").optional(),
});

const TokensFile = z
  .strictObject({ tokens: z.array(TokenEntry).min(1, "tokens must list at least one token") })
  .refine((f) => new Set(f.tokens.map((t) => t.name)).size === f.tokens.length, "every token needs its own name")
  .refine((f) => new Set(f.tokens.map((t) => t.sha256.toLowerCase())).size === f.tokens.length, "two entries have the same sha256; give each client its own token");

/** A tokens file that cannot be used; the message names the file and what to fix. */
export class TokensFileError extends Error {
  override readonly name = "TokensFileError";
}

interface Known {
  digest: Buffer;
  access: Access;
}

/**
 * `--tokens-file`: several bearer tokens, each known only by its SHA-256,
 * with a name (for logs), a scope and optionally the collections it may
 * touch: {"tokens": [{"name": "ci-reader", "sha256": "...", "scope": "read", "collections": ["docs"]}]}.
 */
export function tokensFromFile(path: string): Authenticator {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new TokensFileError(`The tokens file ${path} could not be read as JSON: ${error instanceof Error ? error.message : String(error)}.`);
  }
  const parsed = TokensFile.safeParse(raw);
  if (!parsed.success) throw new TokensFileError(`The tokens file ${path} is not valid: ${issueSentences(parsed.error)}`);
  const known: Known[] = parsed.data.tokens.map((t) => ({
    digest: Buffer.from(t.sha256, "hex"),
    access: { principal: t.name, scope: t.scope, collections: t.collections ?? null },
  }));
  return {
    description: `${count(known.length, "bearer token")} from ${path}`,
    async authenticate(req) {
      const sent = bearerToken(req);
      const digest = sent === null ? null : sha256(sent);
      // Every entry is compared, so the time taken does not say which one matched.
      let match: Known | undefined;
      for (const entry of known) if (digest && digestsEqual(digest, entry.digest)) match = entry;
      return match ? { ok: true, access: match.access } : unauthorized(req, "the bearer token is not in the tokens file");
    },
  };
}
