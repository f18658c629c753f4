import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";

const KID = "test-key-1";

/**
 * A local OAuth authorization server, as far as a resource server sees one:
 * RFC 8414 metadata naming a JWKS, and the JWKS with a key pair generated
 * per run. `sign` issues access tokens with that key (or another one).
 */
export class LocalIssuer {
  private constructor(
    private readonly server: Server,
    private readonly key: CryptoKey,
  ) {}

  static async start(): Promise<LocalIssuer> {
    const { publicKey, privateKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: "RS256", use: "sig" };
    let issuer: LocalIssuer;
    const server = createServer((req, res) => {
      const send = (body: object) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.url === "/.well-known/oauth-authorization-server") return send({ issuer: issuer.url, jwks_uri: `${issuer.url}/jwks`, scopes_supported: ["retrieval:read", "retrieval:write"] });
      if (req.url === "/jwks") return send({ keys: [jwk] });
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = new LocalIssuer(server, privateKey);
    return issuer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** An access token; `expiresIn` is seconds from now (negative: already expired). */
  async sign(claims: { audience: string; scope?: string; subject?: string; expiresIn?: number; issuer?: string; key?: CryptoKey }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(claims.scope === undefined ? {} : { scope: claims.scope })
      .setProtectedHeader({ alg: "RS256", kid: KID, typ: "at+jwt" })
      .setIssuer(claims.issuer ?? this.url)
      .setAudience(claims.audience)
      .setSubject(claims.subject ?? "user-1")
      .setIssuedAt(now - 60)
      .setExpirationTime(now + (claims.expiresIn ?? 3600));
    return jwt.sign(claims.key ?? this.key);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A key the issuer never published: tokens signed with it must fail verification. */
export async function strangerKey(): Promise<CryptoKey> {
  return (await generateKeyPair("RS256")).privateKey;
}
