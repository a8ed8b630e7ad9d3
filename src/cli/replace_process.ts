/**
 * Replace this process with another program (POSIX `execve`, through Deno's FFI and the C library),
 * keeping its process id, its standard streams and whoever waits for it. The narrowing process
 * (`narrow.ts`) uses it to become its narrowed self instead of starting a child and waiting for it:
 * the waiting process held 60 to 70 MB for nothing (bench/README.md, "One process").
 *
 * It needs `--allow-ffi` (only the process that narrows has it: a TypeScript protocol loads in a worker
 * without it, and the narrowed process never gets it) and Linux or macOS. Where either is missing, or
 * the C library cannot be opened, it says so by returning false and the caller starts a child instead.
 *
 * @module
 */

/** Where the C library is, by operating system: the first that opens is used. */
const C_LIBRARY: Partial<Record<typeof Deno.build.os, readonly string[]>> = {
  linux: ["libc.so.6", "libc.so"],
  darwin: ["/usr/lib/libSystem.B.dylib", "libSystem.B.dylib"],
};

const EXECVE = { execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" } } as const;

/**
 * Run `file` with `args` (argv[0] included) and exactly the environment `env` in place of this
 * process. Does not return when it works; false when it cannot be done here (see the module).
 *
 * @example Become another program, or start it as a child where this is not possible
 * ```ts ignore
 * if (!replaceProcess(Deno.execPath(), [Deno.execPath(), "--version"], Deno.env.toObject())) {
 *   await new Deno.Command(Deno.execPath(), { args: ["--version"] }).spawn().status;
 * }
 * ```
 */
export function replaceProcess(file: string, args: readonly string[], env: Record<string, string>): boolean {
  const names = C_LIBRARY[Deno.build.os];
  if (!names || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  let library: Deno.DynamicLibrary<typeof EXECVE> | undefined;
  for (const name of names) {
    try {
      library = Deno.dlopen(name, EXECVE);
      break;
    } catch {
      // not this name: the next
    }
  }
  if (!library) return false;
  // The strings stay referenced (`held`) until execve has copied them into the new program.
  const held: Uint8Array[] = [];
  const text = (s: string) => {
    if (s.includes("\0")) throw new TypeError("a program's argument or environment holds a NUL");
    const bytes = new TextEncoder().encode(`${s}\0`);
    held.push(bytes);
    return bytes;
  };
  const pointers = (strings: readonly string[]) => {
    const list = new BigUint64Array(strings.length + 1); // ends with a null pointer
    strings.forEach((s, i) => list[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(text(s)))));
    return list;
  };
  const argv = pointers(args);
  const envp = pointers(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  library.symbols.execve(text(file), argv, envp);
  // Only a failure returns (the program could not be run): the caller starts a child instead.
  held.length = 0;
  library.close();
  return false;
}
