import type { IncomingMessage } from "node:http";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import type { Access, Scope } from "./access.js";
import { bearerToken, unauthorized, type Authenticator } from "./authenticator.js";

export const SCOPES = { read: "retrieval:read", write: "retrieval:write" } as const;
const METADATA_PATH = "/.well-known/oauth-protected-resource";

export interface OAuthOptions {
  /** The authorization server's issuer identifier; its metadata names the JWKS. */
  issuer: string;
  /** The `aud` tokens must carry: this server's URL as the authorization server knows it, or any agreed identifier. */
  audience: string;
  /** The MCP endpoint's path, for the protected-resource metadata. */
  endpoint: string;
}

export class OAuthSetupError extends Error {
  override readonly name = "OAuthSetupError";
}

/** RFC 8414 first, then OpenID Connect discovery: the two places an issuer publishes its jwks_uri. */
function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, "");
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}${path}/.well-known/openid-configuration`];
}

async function discoverJwks(issuer: string): Promise<URL> {
  const failures: string[] = [];
  for (const url of metadataUrls(issuer)) {
    try {
      const response = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(10_000) });
      if (!response.ok) {
        failures.push(`${url}: HTTP ${response.status}`);
        continue;
      }
      const metadata = (await response.json()) as { jwks_uri?: unknown };
      if (typeof metadata.jwks_uri === "string") return new URL(metadata.jwks_uri);
      failures.push(`${url}: no jwks_uri`);
    } catch (error) {
      failures.push(`${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
  }
  throw new OAuthSetupError(`The OAuth issuer ${issuer} publishes no usable metadata (${failures.join("; ")}). Check --oauth-issuer; the server must reach it at start-up.`);
}

function grantedScopes(payload: JWTPayload): string[] {
  const { scope, scp } = payload as { scope?: unknown; scp?: unknown };
  if (typeof scope === "string") return scope.split(" ").filter(Boolean);
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === "string");
  return [];
}

function scopeOf(granted: readonly string[]): Scope | null {
  if (granted.includes(SCOPES.write)) return "write";
  return granted.includes(SCOPES.read) ? "read" : null;
}

/** Why a token failed, in words for the client, without echoing the token. */
function rejection(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the access token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `the access token's ${error.claim} claim is not accepted here (${error.reason})`;
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) return "the access token's signature does not verify against the issuer's keys";
  return "the access token is not a valid JWT from the configured issuer";
}

/**
 * OAuth resource-server mode (MCP authorization): access tokens are JWTs
 * from one issuer, checked against its JWKS (signature, `iss`, `aud`,
 * expiry) and mapped to access by scope: retrieval:read, retrieval:write.
 * Clients find the issuer through the protected-resource metadata (RFC
 * 9728) that every 401 points to.
 */
export async function oauthResourceServer(options: OAuthOptions): Promise<Authenticator> {
  const jwks = createRemoteJWKSet(await discoverJwks(options.issuer));
  /** Where this server is, as the client reached it (or as the audience names it, when that is a URL). */
  const base = (req: IncomingMessage): string => {
    if (/^https?:\/\//.test(options.audience)) return new URL(options.audience).origin;
    return `http://${req.headers.host ?? "localhost"}`;
  };
  const challenge = (req: IncomingMessage) => `Bearer resource_metadata="${base(req)}${METADATA_PATH}", scope="${SCOPES.read} ${SCOPES.write}"`;
  return {
    description: `OAuth access tokens from ${options.issuer} (audience ${options.audience})`,
    async authenticate(req) {
      const token = bearerToken(req);
      if (token === null) return unauthorized(req, "send an OAuth access token", challenge(req));
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: options.issuer, audience: options.audience }));
      } catch (error) {
        return unauthorized(req, rejection(error), challenge(req));
      }
      const scope = scopeOf(grantedScopes(payload));
      if (scope === null) {
        return {
          ok: false,
          status: 403,
          message: `Forbidden: the access token grants neither ${SCOPES.read} nor ${SCOPES.write}.`,
          challenge: `${challenge(req)}, error="insufficient_scope"`,
        };
      }
      const principal = typeof payload.sub === "string" ? payload.sub : String((payload as { client_id?: unknown }).client_id ?? "oauth client");
      const access: Access = { principal, scope, collections: null };
      return { ok: true, access };
    },
    publicDocument(path, req) {
      // RFC 9728: at the well-known path, or with the resource's own path appended.
      if (path !== METADATA_PATH && path !== `${METADATA_PATH}${options.endpoint}`) return null;
      return {
        resource: /^https?:\/\//.test(options.audience) ? options.audience : `${base(req)}${options.endpoint}`,
        authorization_servers: [options.issuer],
        scopes_supported: [SCOPES.read, SCOPES.write],
        bearer_methods_supported: ["header"],
        resource_name: "retrieval-mcp",
      };
    },
  };
}
