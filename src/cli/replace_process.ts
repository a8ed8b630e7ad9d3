/**
 * Replace this process with another program (POSIX `execv`, through Deno's FFI and the C library),
 * keeping its process id, its environment, its standard streams and whoever waits for it. The
 * narrowing process (`narrow.ts`) uses it to become its narrowed self instead of starting a child and
 * waiting for it: the waiting process held 60 to 70 MB for nothing (bench/README.md, "One process").
 *
 * It needs `--allow-ffi` (which `deno task dcmtidy` gives; the CLI gives it up in every process that
 * does not narrow, a TypeScript protocol loads in a worker without it, and the narrowed process
 * never has it) and Linux or macOS. Where either is missing, or the C library cannot be opened, it
 * says so by returning false and the caller starts a child instead.
 *
 * @module
 */

/** Where the C library is, by operating system: the first that opens is used. */
const C_LIBRARY: Partial<Record<typeof Deno.build.os, readonly string[]>> = {
  // Only glibc's name: "libc.so" is a linker script there, and another C library (musl's) must not
  // be loaded into a glibc program.
  linux: ["libc.so.6"],
  darwin: ["/usr/lib/libSystem.B.dylib", "libSystem.B.dylib"],
};

const SYMBOLS = {
  execv: { parameters: ["buffer", "buffer"], result: "i32" },
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
} as const;

/** SIGPIPE's number on Linux and macOS. */
const SIGPIPE = 13;

/**
 * Run `file` with `args` (argv[0] included) in place of this process, with its environment as it
 * is: set what the program should find with `Deno.env` first (the environment passes byte for byte,
 * values that are not UTF-8 too). SIGPIPE goes back to its default action for the program, as a
 * spawned one has it (Deno ignores it). Does not return when it works; false when it cannot be done
 * here (see the module).
 *
 * @example Become another program, or start it as a child where this is not possible
 * ```ts ignore
 * if (!replaceProcess(Deno.execPath(), [Deno.execPath(), "--version"])) {
 *   await new Deno.Command(Deno.execPath(), { args: ["--version"] }).spawn().status;
 * }
 * ```
 */
export function replaceProcess(file: string, args: readonly string[]): boolean {
  const names = C_LIBRARY[Deno.build.os];
  if (!names || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
  for (const name of names) {
    try {
      library = Deno.dlopen(name, SYMBOLS);
      break;
    } catch {
      // not this name: the next
    }
  }
  if (!library) return false;
  // The strings stay referenced (`held`) until execv has copied them into the new program.
  const held: Uint8Array[] = [];
  const text = (s: string) => {
    if (s.includes("\0")) throw new TypeError("a program's argument holds a NUL");
    const bytes = new TextEncoder().encode(`${s}\0`);
    held.push(bytes);
    return bytes;
  };
  const argv = new BigUint64Array(args.length + 1); // ends with a null pointer
  args.forEach((s, i) => argv[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(text(s)))));
  const path = text(file);
  const previous = library.symbols.signal(SIGPIPE, null);
  library.symbols.execv(path, argv);
  // Only a failure returns (the program could not be run): this process goes on as it was, and the
  // caller starts a child instead.
  library.symbols.signal(SIGPIPE, previous);
  held.length = 0;
  library.close();
  return false;
}
