/** "12 MiB": a byte count in whole mebibytes, as the status and the log give memory. */
export function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}
