import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { FULL_ACCESS, type Access } from "./access.js";

export type AuthOutcome =
  | { ok: true; access: Access }
  /** 401: no or bad credentials; 403: good credentials that do not allow this. `challenge` is the WWW-Authenticate value. */
  | { ok: false; status: 401 | 403; message: string; challenge: string };

/** How an HTTP server decides who a request comes from and what it may do. */
export interface Authenticator {
  /** For the start-up line, e.g. "bearer token required". */
  readonly description: string;
  authenticate(req: IncomingMessage): Promise<AuthOutcome>;
  /** Documents served without credentials (OAuth protected-resource metadata); null for other paths. */
  publicDocument?(path: string, req: IncomingMessage): object | null;
}

/** Shorter bearer tokens are refused beyond loopback: 32 characters of `openssl rand -hex 16` carry 128 bits. */
export const MIN_EXPOSED_TOKEN_CHARS = 32;

export function bearerToken(req: IncomingMessage): string | null {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
  return match ? match[1]!.trim() : null;
}

export function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Equal-length digests make the comparison constant-time whatever the token's length. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function unauthorized(req: IncomingMessage, what: string, challenge = 'Bearer realm="retrieval-mcp"'): AuthOutcome {
  const sent = req.headers.authorization !== undefined;
  return {
    ok: false,
    status: 401,
    message: sent ? `Unauthorized: ${what}.` : "Unauthorized: send Authorization: Bearer <token>.",
    challenge: sent ? `${challenge}, error="invalid_token"` : challenge,
  };
}

/** One shared token (--token): whoever holds it has full access. */
export function singleToken(token: string): Authenticator {
  const expected = sha256(token);
  return {
    description: "bearer token required",
    async authenticate(req) {
      const sent = bearerToken(req);
      return sent !== null && digestsEqual(sha256(sent), expected) ? { ok: true, access: FULL_ACCESS } : unauthorized(req, "the bearer token is wrong");
    },
  };
}

/**
 * Why serving on `host` this way would be unsafe, or null. Anything but
 * loopback needs credentials, and a shared token long enough not to be guessed.
 */
export function exposureProblem(loopback: boolean, auth: { token?: string; other: boolean }): string | null {
  if (loopback) return null;
  if (auth.token === undefined && !auth.other) {
    return (
      "without a bearer token anyone who can reach that address could read and change the index; " +
      "set one with --token or RETRIEVAL_MCP_TOKEN (or use --tokens-file or --oauth-issuer), or bind to 127.0.0.1."
    );
  }
  if (auth.token !== undefined && auth.token.length < MIN_EXPOSED_TOKEN_CHARS) {
    return `the bearer token is ${auth.token.length} characters long; beyond loopback it must have at least ${MIN_EXPOSED_TOKEN_CHARS}, e.g. from \`openssl rand -hex 32\`.`;
  }
  return null;
}
