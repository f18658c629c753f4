import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { StoreError, errorMessage } from "./errors.js";
import type { S3Vectors } from "./vectors-location.js";

/** What the start-up probe found out about the object store's conditional writes. */
export interface ConditionalPutReport {
  /**
   * true: a second PUT with `If-None-Match: *` on an existing key was
   * refused, as Lance's commits need; false: it overwrote the object;
   * null: not probed, or the answer was neither.
   */
  conditional_put: boolean | null;
  /** The outcome in words, for logs and status. */
  detail: string;
}

/** Where under the prefix the probe writes (and then deletes) its object; not a `.lance` folder, so never taken for a table. */
const PROBE_FOLDER = ".retrieval-mcp-probe";
/** A refused connection fails at once; these bound a silent network (seconds, as the SDK counts them in ms). */
const CONNECT_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** The SDK's default region when none is set; AWS redirects to the bucket's own and the client follows. */
const FALLBACK_REGION = "us-east-1";

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError).$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string {
  const e = error as SdkError;
  return e.name ?? e.code ?? "Error";
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH|TimeoutError|socket hang up/i;

function client(location: S3Vectors): S3Client {
  // The SDK warns on Node < 22 about its releases after January 2027; the
  // version pinned here supports Node 20, so the warning only adds a screen of
  // noise to every s3:// command's stderr. A user's explicit setting wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: location.region ?? FALLBACK_REGION,
    followRegionRedirects: true,
    // Path-style, as Lance addresses a custom endpoint (http://host:port/bucket/key).
    ...(location.endpoint ? { endpoint: location.endpoint, forcePathStyle: true } : {}),
    ...(location.credentials ? { credentials: location.credentials } : {}),
    // Checksums only where S3 requires them: several S3-compatible stores reject the newer checksum headers.
    requestChecksumCalculation: "WHEN_REQUIRED",
    maxAttempts: 2,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
  });
}

/**
 * The errors that stop the store from opening at all, in words with what
 * to change; null for anything else. Without this, Lance meets them first
 * and retries for a quarter of a minute before a page-long error.
 */
function fatal(error: unknown, location: S3Vectors): StoreError | null {
  const where = location.endpoint ?? `AWS S3${location.region ? ` (${location.region})` : ""}`;
  const name = nameOf(error);
  const status = statusOf(error);
  const detail = errorMessage(error);
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(detail)) {
    return new StoreError(
      "vectors_unavailable",
      `No AWS credentials were found for the vectors at ${location.uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or configure a profile or an instance role). Nothing was read or written.`,
      { cause: error },
    );
  }
  if (name === "NoSuchBucket" || (status === 404 && name !== "NoSuchKey")) {
    return new StoreError(
      "vectors_unavailable",
      `The bucket ${location.bucket} does not exist at ${where}. Create it, or point --vectors (RETRIEVAL_MCP_VECTORS) at an existing bucket${location.endpoint ? " and --s3-endpoint at the store that has it" : ""}. Nothing was written.`,
      { cause: error },
    );
  }
  if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"].includes(name)) {
    return new StoreError(
      "vectors_unavailable",
      `The object store at ${where} refused the credentials for ${location.uri} (${name}). Check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY${location.region ? "" : ", AWS_REGION"} and AWS_SESSION_TOKEN. Nothing was written.`,
      { cause: error },
    );
  }
  if (status === undefined && UNREACHABLE.test(`${name} ${(error as SdkError).code ?? ""} ${detail}`)) {
    return new StoreError(
      "vectors_unavailable",
      `Cannot reach the object store for ${location.uri} at ${where} (${detail}). ` +
        `Check ${location.endpoint ? "--s3-endpoint (or AWS_ENDPOINT_URL)" : "the network, or give --s3-endpoint for an S3-compatible store"} and that the store is running. Nothing was read or written.`,
      { cause: error },
    );
  }
  return null;
}

function describe(error: unknown): string {
  const status = statusOf(error);
  return `${nameOf(error)}${status ? ` (HTTP ${status})` : ""}: ${errorMessage(error)}`;
}

/**
 * Checks an S3 location before Lance uses it. An unreachable endpoint, a
 * missing bucket or refused credentials throw, with what to change. Then,
 * when the store may write, it asks whether the object store enforces
 * conditional writes, on which Lance's commits rely: it PUTs a new object
 * under the prefix with `If-None-Match: *`, PUTs it again the same way
 * (S3 must answer 412 Precondition Failed), and deletes it.
 */
export async function probeObjectStore(location: S3Vectors, options: { write: boolean }): Promise<ConditionalPutReport> {
  const s3 = client(location);
  try {
    if (!options.write) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: location.bucket }));
      } catch (error) {
        throw fatal(error, location) ?? error;
      }
      return { conditional_put: null, detail: "not probed: the store is open read-only" };
    }
    const key = `${location.prefix ? `${location.prefix}/` : ""}${PROBE_FOLDER}/conditional-put-${randomUUID()}`;
    const put = (body: string) => s3.send(new PutObjectCommand({ Bucket: location.bucket, Key: key, Body: body, IfNoneMatch: "*" }));
    try {
      await put("first");
    } catch (error) {
      const stop = fatal(error, location);
      if (stop) throw stop;
      return { conditional_put: null, detail: `could not probe: the first conditional PUT of s3://${location.bucket}/${key} failed with ${describe(error)}` };
    }
    try {
      try {
        await put("second");
      } catch (error) {
        // 409: AWS's answer when a conditional write races another; either way the second write did not land.
        if (statusOf(error) === 412 || statusOf(error) === 409) {
          return { conditional_put: true, detail: `the object store refused a second PUT with If-None-Match: * (HTTP ${statusOf(error)})` };
        }
        return { conditional_put: null, detail: `inconclusive: the second conditional PUT failed with ${describe(error)}` };
      }
      return { conditional_put: false, detail: "the object store ignored If-None-Match: * (a second conditional PUT overwrote the object)" };
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: location.bucket, Key: key })).catch(() => undefined);
    }
  } finally {
    s3.destroy();
  }
}
