import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** The keys s3rver accepts (its built-in account), as the AWS_* variables a store reads. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" } as const;

export interface S3Endpoint {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

const requireHere = createRequire(import.meta.url);
const S3rver = requireHere("@20minutes/s3rver") as S3rverClass;

interface PutObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: Record<string, string>;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putContent(path: string, content: PutObject["content"]): Promise<[number, string]>;
  putMetadata(bucket: string, key: string, metadata: PutObject["metadata"], md5: string): Promise<void>;
}

/**
 * S3 shows an object whole or not at all; s3rver writes it in place, and
 * answers a PUT whose body it buffered before the bytes are written, so a
 * replica reading a key another one was writing could read it torn (a
 * manifest of the wrong length, seen once in test/replicas.test.ts). So
 * each object is written to a folder beside the store's, with its
 * metadata, and renamed into place before the PUT is answered. Beside,
 * not in the bucket's folder: s3rver's listing stats every file it finds
 * there and answers 500 when one is renamed away meanwhile.
 */
function putObjectsWhole(): void {
  const { prototype } = requireHere("@20minutes/s3rver/lib/stores/filesystem.js") as {
    prototype: FilesystemStore & { rootDirectory: string; putObject(object: PutObject): Promise<{ size: number; md5: string }> };
  };
  prototype.putObject = async function (this: FilesystemStore & { rootDirectory: string }, object: PutObject) {
    const objectPath = this.getResourcePath(object.bucket, object.key, "object");
    const partial = join(partialsOf(this.rootDirectory), randomUUID());
    await mkdir(dirname(objectPath), { recursive: true });
    // putContent resolves a buffered body before its write stream has finished.
    const [size, md5] = Buffer.isBuffer(object.content)
      ? (await writeFile(partial, object.content), [object.content.length, createHash("md5").update(object.content).digest("hex")] as const)
      : await this.putContent(partial, object.content);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    await rename(partial, objectPath);
    return { size, md5 };
  };
}
/** Where objects being written wait: beside s3rver's folder, on the same file system, so the rename is atomic. */
const partialsOf = (directory: string): string => `${directory}.partial`;
putObjectsWhole();

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * s3rver (an S3 emulator from the npm registry) on a free loopback port,
 * keeping its objects in a temp folder of its own, with these buckets.
 * It ignores If-None-Match on PUT, as the README says.
 */
export async function startS3rver(buckets: readonly string[] = ["vectors"]): Promise<S3Endpoint> {
  const directory = mkdtempSync(join(tmpdir(), "retrieval-mcp-s3-"));
  mkdirSync(partialsOf(directory));
  const s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await s3.run();
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await s3.close();
      for (const dir of [directory, partialsOf(directory)]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function forward(upstream: URL, req: IncomingMessage, res: ServerResponse): void {
  // Host stays as the client signed it: s3rver checks the signature against it.
  const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode!, answer.headers);
    answer.pipe(res);
  });
  out.on("error", () => res.destroy());
  req.pipe(out);
}

function exists(upstream: URL, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const head = request({ host: upstream.hostname, port: upstream.port, method: "HEAD", path }, (answer) => {
      answer.resume();
      resolve(answer.statusCode === 200);
    });
    head.on("error", reject);
    head.end();
  });
}

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';

/**
 * A proxy in front of an S3 endpoint that gives it what S3 has and s3rver
 * lacks: a PUT with `If-None-Match: *` on a key that exists is refused
 * with 412. Such PUTs take turns per key (check, then write), so two at
 * once cannot both succeed; everything else passes through untouched.
 */
export async function enforceIfNoneMatch(upstreamUrl: string): Promise<S3Endpoint> {
  const upstream = new URL(upstreamUrl);
  const turns = new Map<string, Promise<void>>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", upstream);
    // A multipart upload's parts are not conditional; its completion is not either, in Lance's commits.
    const part = url.searchParams.has("uploadId") || url.searchParams.has("partNumber");
    if (req.method !== "PUT" || req.headers["if-none-match"] !== "*" || part) return forward(upstream, req, res);
    const path = url.pathname;
    const previous = turns.get(path) ?? Promise.resolve();
    const turn = previous.then(async () => {
      if (await exists(upstream, path)) {
        req.resume();
        res.writeHead(412, { "content-type": "application/xml" }).end(PRECONDITION_FAILED);
        return;
      }
      forward(upstream, req, res);
      await new Promise((resolve) => res.once("close", resolve));
    });
    const settled = turn.catch(() => void res.destroy());
    turns.set(path, settled);
    void settled.then(() => {
      if (turns.get(path) === settled) turns.delete(path);
    });
  });
  const url = await listen(server);
  return { url, stop: () => close(server) };
}

/** A loopback URL where nothing listens (a server that took a free port and let it go). */
export async function closedEndpoint(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await close(server);
  return url;
}
