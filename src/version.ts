import { readFileSync } from "node:fs";

interface PackageJson {
  version: string;
  peerDependencies: Record<string, string>;
}

/** package.json, next to src/ and dist/ alike. */
function packageJson(): PackageJson {
  return JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as PackageJson;
}

/** The package version. */
export function packageVersion(): string {
  return packageJson().version;
}

/** An optional peer dependency as `name@version`, the version package.json pins and the tests run: what an install hint names. */
export function pinnedPeer(name: string): string {
  const version = packageJson().peerDependencies[name];
  if (version === undefined) throw new Error(`${name} is not among package.json's peerDependencies`);
  return `${name}@${version}`;
}
