/** Database URLs as the CLI and messages handle them; free of the pg driver, which loads only with the backend. */

/** Why `value` is not a PostgreSQL connection URL the driver can use (a phrase to follow the flag's name), or null when it is one. */
export function postgresUrlProblem(value: string): string | null {
  if (!/^postgres(ql)?:\/\//i.test(value)) return `must be a PostgreSQL URL such as postgres://user@host:5432/retrieval, got ${JSON.stringify(redactedUrl(value))}`;
  try {
    new URL(value);
  } catch {
    // Not echoed: the password is where such URLs usually go wrong, and could not be hidden.
    return "is not a valid URL: check the port (at most 65535), the brackets around an IPv6 address, and percent-encode @ : / ? # [ ] in the user name or password (@ as %40)";
  }
  return null;
}

/** A connection URL with its password replaced, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparseable PostgreSQL URL)";
  }
}
