import { join, resolve } from "node:path";
import { isLoopback } from "../net/loopback.js";
import { StoreError } from "./errors.js";

/** Where a store's Lance tables live, when not in its data directory. */
export interface VectorsOptions {
  /** A directory, or `s3://bucket/prefix`. Default: lance/ in the data directory. */
  vectors?: string;
  /** For `s3://` vectors: an S3-compatible endpoint such as http://127.0.0.1:9000 (default: AWS_ENDPOINT_URL, else AWS itself). */
  s3Endpoint?: string;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface DirectoryVectors {
  kind: "directory";
  /** The absolute path of the directory. */
  uri: string;
}

export interface S3Vectors {
  kind: "s3";
  /** `s3://bucket/prefix` as given, without a trailing slash. */
  uri: string;
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slashes; "" for the bucket's root. */
  prefix: string;
  /** An S3-compatible endpoint, or null for AWS. */
  endpoint: string | null;
  /** AWS_REGION (or AWS_DEFAULT_REGION), or null to let the client find it. */
  region: string | null;
  /** Plain HTTP to the endpoint is allowed (loopback, or AWS_ALLOW_HTTP=true). */
  allowHttp: boolean;
  /** From AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; null leaves them to the default chain (profiles, instance roles). */
  credentials: AwsCredentials | null;
}

export type VectorsLocation = DirectoryVectors | S3Vectors;

/** S3's bucket naming rules, loosely: 3-63 lower-case letters, digits, dots and hyphens. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function invalid(message: string): StoreError {
  return new StoreError("invalid_input", message);
}

/** An empty variable counts as unset, as shells and config files often leave them. */
function fromEnv(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

function endpointOf(raw: string, env: NodeJS.ProcessEnv, source: string): { endpoint: string; allowHttp: boolean } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`${source} must be a URL such as https://s3.example.com or http://127.0.0.1:9000, got ${JSON.stringify(raw)}.`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid(`${source} must be an http:// or https:// URL, got ${JSON.stringify(raw)}.`);
  const plain = url.protocol === "http:";
  // Credentials sign every request but the data itself travels as sent: in clear over http beyond this machine.
  if (plain && !isLoopback(url.hostname) && fromEnv(env, "AWS_ALLOW_HTTP") !== "true") {
    throw invalid(
      `${source} ${raw} is plain HTTP to another machine: the vectors would cross the network unencrypted. ` +
        "Use an https:// endpoint, or set AWS_ALLOW_HTTP=true if that network is private.",
    );
  }
  return { endpoint: url.href.replace(/\/$/, ""), allowHttp: plain };
}

/**
 * Reads `--vectors` (a directory, or `s3://bucket/prefix`) and the
 * standard AWS variables into a location. Credentials and the region come
 * from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
 * AWS_REGION, the endpoint from `s3Endpoint` or AWS_ENDPOINT_URL, as for
 * any AWS tool. `defaultDir` is used when `vectors` is absent.
 */
export function vectorsLocation(options: VectorsOptions, defaultDir: string, env: NodeJS.ProcessEnv = process.env): VectorsLocation {
  const raw = options.vectors ?? defaultDir;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (options.s3Endpoint !== undefined) throw invalid(`--s3-endpoint applies to s3:// vectors only; --vectors is the directory ${raw}.`);
    return { kind: "directory", uri: resolve(raw) };
  }
  if (scheme !== "s3") {
    throw invalid(`--vectors must be a directory or an s3://bucket/prefix URI, got ${JSON.stringify(raw)}: ${scheme}:// storage is not supported.`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`--vectors ${JSON.stringify(raw)} is not a valid URI; write it as s3://bucket/prefix.`);
  }
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw invalid(`--vectors ${raw}: ${JSON.stringify(bucket)} is not a bucket name (3-63 lower-case letters, digits, dots and hyphens); write s3://bucket/prefix.`);
  if (url.search || url.hash || url.username || url.port) throw invalid(`--vectors ${raw}: write it as s3://bucket/prefix, without a port, user, query or fragment (the endpoint goes in --s3-endpoint).`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
  const endpointRaw = options.s3Endpoint ?? fromEnv(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
  const source = options.s3Endpoint !== undefined ? "--s3-endpoint" : "AWS_ENDPOINT_URL";
  const { endpoint, allowHttp } = endpointRaw === undefined ? { endpoint: null, allowHttp: false } : endpointOf(endpointRaw, env, source);
  const accessKeyId = fromEnv(env, "AWS_ACCESS_KEY_ID");
  const secretAccessKey = fromEnv(env, "AWS_SECRET_ACCESS_KEY");
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw invalid(`AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: ${accessKeyId === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"} is missing.`);
  }
  const sessionToken = fromEnv(env, "AWS_SESSION_TOKEN");
  return {
    kind: "s3",
    uri: `s3://${bucket}${prefix ? `/${prefix}` : ""}`,
    bucket,
    prefix,
    endpoint,
    region: fromEnv(env, "AWS_REGION", "AWS_DEFAULT_REGION") ?? null,
    allowHttp,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : null,
  };
}

/** Where a table's files are: a directory path, or a URI. */
export function tableLocation(location: VectorsLocation, name: string): string {
  return location.kind === "directory" ? join(location.uri, `${name}.lance`) : `${location.uri}/${name}.lance`;
}

/**
 * LanceDB's storage options for an S3 location. Only what we resolved is
 * passed: without explicit keys Lance looks for credentials as every AWS
 * client does (profiles, instance and container roles).
 */
export function lanceStorageOptions(location: S3Vectors): Record<string, string> {
  return {
    ...(location.endpoint ? { aws_endpoint: location.endpoint } : {}),
    ...(location.allowHttp ? { allow_http: "true" } : {}),
    ...(location.region ? { aws_region: location.region } : {}),
    ...(location.credentials
      ? {
          aws_access_key_id: location.credentials.accessKeyId,
          aws_secret_access_key: location.credentials.secretAccessKey,
          ...(location.credentials.sessionToken ? { aws_session_token: location.credentials.sessionToken } : {}),
        }
      : {}),
  };
}
