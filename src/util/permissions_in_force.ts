/**
 * Under which Deno permissions this process runs, for the audit record: the flags of a narrowed
 * process (`dcmtidy` narrows itself, see src/cli/narrow.ts, and passes them in DCMTIDY_NARROWED), or
 * what Deno says of each permission as a whole.
 *
 * @module
 */

/** The variable a narrowed process finds its own flags in. */
export const NARROWED_FLAGS = "DCMTIDY_NARROWED";

/** The permissions in force, in words or as the flags the process was started with. */
export function permissionsInForce(): string {
  if (Deno.permissions.querySync({ name: "env", variable: NARROWED_FLAGS }).state === "granted") {
    const flags = Deno.env.get(NARROWED_FLAGS);
    if (flags) return flags;
  }
  const names = ["read", "write", "env", "net", "run", "ffi", "sys"] as const;
  return names.map((name) => {
    const state = Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state;
    return `${name}: ${state === "granted" ? "all" : state === "denied" ? "none" : "some or none"}`;
  }).join(", ");
}
