/**
 * Whether `error` is Node's report that the optional package `name` itself
 * is not installed, as `import()` and `require()` word it ("Cannot find
 * package 'name' imported from ...", "Cannot find module 'name'"). A
 * module missing inside an installed package names that package only in
 * the importer's path: that is a broken install, whose own message is the
 * one to show, not "install it".
 */
export function isMissingPackage(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  return (error instanceof Error ? error.message : String(error)).includes(`'${name}'`);
}
