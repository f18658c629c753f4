import { isMissingPackage } from "../optional-package.js";
import { pinnedPeer } from "../version.js";
import { StoreError } from "./errors.js";
import { connectLance, type LanceDatabase } from "./lance-connection.js";
import type { ConditionalPutReport } from "./object-store-probe.js";
import type { VectorsLocation } from "./vectors-location.js";

/** Where a store's vectors are, and what the start-up probe learnt about the object store there. */
export interface VectorStorage {
  location: VectorsLocation;
  conditionalPut: ConditionalPutReport;
}

const S3_PACKAGE_NAME = "@aws-sdk/client-s3";

const LOCAL: ConditionalPutReport = { conditional_put: null, detail: "not probed: the vectors are in a local directory" };

/**
 * Connects to the vectors' location. An `s3://` one is probed first (see
 * probeObjectStore): a wrong endpoint, bucket or credentials stop the open
 * with what to change. The S3 client loads only then.
 */
export async function openVectorStorage(location: VectorsLocation, options: { writable: boolean }): Promise<{ storage: VectorStorage } & LanceDatabase> {
  let conditionalPut = LOCAL;
  if (location.kind === "s3") {
    const { probeObjectStore } = await importProbe();
    conditionalPut = await probeObjectStore(location, { write: options.writable });
  }
  return { storage: { location, conditionalPut }, ...(await connectLance(location)) };
}

/** The S3 client, an optional peer dependency (22 MB that local stores never use), with what to install where it is missing. */
async function importProbe(): Promise<typeof import("./object-store-probe.js")> {
  try {
    return await import("./object-store-probe.js");
  } catch (error) {
    if (!isMissingPackage(error, S3_PACKAGE_NAME)) throw error;
    const pinned = pinnedPeer(S3_PACKAGE_NAME);
    throw new StoreError(
      "invalid_input",
      `s3:// vectors need the optional package ${pinned}, which is not installed. Install it next to retrieval-mcp ` +
        `(\`npm install -g ${pinned}\` for a global install), or keep the vectors in a directory (omit --vectors).`,
      { cause: error },
    );
  }
}

/** The probe's outcome as one log line at open, with what it means for lost commits; null for a local directory. */
export function probeLogLine({ location, conditionalPut }: VectorStorage): { message: string; level: "info" | "warning" } | null {
  if (location.kind !== "s3") return null;
  const head = `vectors at ${location.uri}: ${conditionalPut.detail}`;
  if (conditionalPut.conditional_put === false) {
    return {
      message:
        `${head}. Every Lance commit of this store's processes, compaction and index builds included, is taken under one lock, so none of theirs is lost ` +
          "(writes wait while an index builds); " +
        "but any other program that writes under this prefix can overwrite a commit, or have its own overwritten, without an error.",
      level: "warning",
    };
  }
  return { message: head, level: "info" };
}
