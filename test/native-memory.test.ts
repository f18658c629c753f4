import { createRequire } from "node:module";
import { expect, test } from "vitest";
import { releaseFreedMemory } from "../src/store/native-memory.js";

const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");

/** The C library's malloc and free, as Lance's native code calls them; null where the C library is not glibc. */
function glibc() {
  try {
    const libc = koffi.load("libc.so.6");
    return { malloc: libc.func("void *malloc(size_t)"), free: libc.func("void free(void *)") };
  } catch {
    return null;
  }
}

const libc = process.platform === "linux" ? glibc() : null;
const BLOCKS = 200_000;
/** Below the 1 MiB mmap threshold and past the fast bins: freed blocks merge into free heap under the pinning block. */
const BLOCK_BYTES = 512;
const MIB = 2 ** 20;

test.skipIf(libc === null)("freed native memory below a live block goes back to the system, which glibc's free alone does not do", async () => {
  const { malloc, free } = libc!;
  const before = process.memoryUsage.rss();
  const blocks = Array.from({ length: BLOCKS }, () => {
    const block = malloc(BLOCK_BYTES);
    // Touch every page, as a real allocation's user would.
    koffi.encode(block, koffi.array("uint8", BLOCK_BYTES), new Array(BLOCK_BYTES).fill(1));
    return block;
  });
  const pin = malloc(BLOCK_BYTES);
  for (const block of blocks) free(block);
  const freed = process.memoryUsage.rss();
  // ~100 MiB were freed, but they lie below `pin`: glibc keeps them, as it keeps what an index build frees.
  expect(freed - before).toBeGreaterThan(80 * MIB);

  const release = await releaseFreedMemory({ collect: false });
  expect(release.trimmed).toBe(true);
  expect(release.rss_before_bytes - release.rss_after_bytes).toBeGreaterThan(80 * MIB);
  free(pin);
});
