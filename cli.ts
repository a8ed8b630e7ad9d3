/**
 * The dcmtidy command line. `deno run -A cli.ts <command>` from the repository root, or
 * `deno task dcmtidy <command>` with only the permissions it needs.
 *
 * A command's module is imported when the command runs, and a data command's only once the process
 * knows it will not narrow itself (`src/cli/narrow.ts`): the process that narrows holds only the code
 * that loading a protocol takes while it waits (bench/README.md, "Start-up").
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { dropFfi, exitWithParent, narrowFirst, narrowMergeFirst, setCommandLine } from "./src/cli/narrow.ts";
import { describeError } from "./src/cli/errors.ts";
import { DcmtidyError, EnvironmentError, EXIT } from "./src/util/errors.ts";
import { environmentFault, withoutPaths } from "./src/util/fs_errors.ts";
import { VERSION } from "./src/version.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The commands that may narrow themselves (`narrowFirst`, `narrowMergeFirst`): the others give up FFI at once. */
const NARROWING_COMMANDS: ReadonlySet<string> = new Set(["plan", "run", "scan", "verify", "merge"]);

const wholeNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("give a whole number, 1 or more");
  return n;
};

/** `--shard K/N`, `--shard-from-env`, `--shards N` on `plan`, `scan` and `run`. */
function withShardOptions(cmd: Command, by = "a hash of each file's study"): Command {
  return cmd
    .option("--shard <K/N>", `only the files of shard K of N (${by})`)
    .option("--shard-from-env", "take the shard from a Slurm job array or a Kubernetes Indexed Job")
    .option("--shards <n>", "the shard count, with --shard-from-env and JOB_COMPLETION_INDEX", wholeNumber);
}

/** Build the command tree; `run` returns the exit code through `setExit`. */
function program(setExit: (code: number) => void): Command {
  const cli = new Command("dcmtidy")
    .description("Turn a raw dump of DICOM files into a tidy, de-identified research dataset.")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError()
    // FFI is for a data command that narrows itself (narrowFirst); every other command gives it up.
    .hook("preAction", (_cli, command) => {
      if (!NARROWING_COMMANDS.has(command.name())) dropFfi();
    });

  cli.command("dump")
    .description("list every element of DICOM files (like dcmdump); identifying values are masked")
    .argument("<files...>", "DICOM files")
    .option("--json", "print the DICOM JSON model (PS3.18 F.2) instead")
    .option("--show-phi", "show identifying values instead of masking them")
    .option("--width <n>", "cut text values longer than this", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) {
        throw new InvalidArgumentError("give a whole number of characters, 1 or more");
      }
      return n;
    })
    .action(async (files: string[], opts) =>
      setExit(await (await import("./src/cli/engine_commands.ts")).dumpCommand(files, opts))
    );

  cli.command("modify")
    .description("rewrite DICOM files into --out with edits; with no edits, a lossless round trip")
    .argument("<files...>", "DICOM files (never written to)")
    .requiredOption("--out <dir>", "folder for the rewritten files")
    .option(
      "--set <key=value>",
      "set a value; KEY is a keyword, (gggg,eeee) or a path like Seq[0].Key",
      collect,
    )
    .option("--delete <key>", "delete an element (same KEY forms as --set)", collect)
    .option(
      "--transfer-syntax <ts>",
      "write in this transfer syntax: keep, explicit-le, implicit-le, rle-lossless, jpeg-ls-lossless, " +
        "htj2k-lossless or a UID (lossless only; a lossy source keeps its lossy history)",
      "keep",
    )
    .option("--overwrite", "replace files that already exist in --out")
    .action(async (files: string[], opts) =>
      setExit(await (await import("./src/cli/engine_commands.ts")).modifyCommand(files, opts))
    );

  cli.command("init")
    .description("write a commented starter protocol")
    .argument("[file]", "where to write it", "study.yaml")
    .option("--preset <name>", "research | sort-only | dcm2dir", "research")
    .option(
      "--pixels-from <file>",
      "import pixel rules (deidentify.pixels, burned_in: blank) from a CTP DicomPixelAnonymizer.script " +
        "or a deid recipe's %filter sections",
    )
    .action(async (file: string, opts) =>
      setExit(
        await (await import("./src/cli/protocol_commands.ts")).initCommand(
          file,
          opts.preset,
          opts.pixelsFrom,
        ),
      )
    );

  cli.command("permissions")
    .description(
      "print the Deno permissions a command needs for a protocol, and the deno run line that uses them",
    )
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--command <name>", "validate, plan, scan, run or verify", "run")
    .option("--out <file>", "with --command plan: the plan JSON file the command will write")
    .option("--preview <dir>", "with --command plan: the preview folder the command will write")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .action(async (file: string, opts) =>
      setExit(await (await import("./src/cli/permissions.ts")).permissionsCommand(file, opts))
    );

  cli.command("validate")
    .description("check a protocol and print what it resolves to (paths, options, rules)")
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .action(async (file: string, opts) =>
      setExit(await (await import("./src/cli/protocol_commands.ts")).validateCommand(file, opts))
    );

  withShardOptions(cli.command("plan"))
    .description("show what a run would do: every file's fate and destination, the output tree")
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .option("--json", "print the plan as JSON (docs/plan-json.md)")
    .option("--out <file>", "also write the plan as JSON to this file, unmasked (paths and values)")
    .option("--show-phi", "show input paths and original values instead of masking them")
    .option("--all", "show every folder, series diff, patient and warning (default: the first ones)")
    .option("--no-color", "no colors even on a terminal (NO_COLOR=1 does the same)")
    .option(
      "--preview <dir>",
      "burned_in: blank: write the first frame of each blanked series before and after, as PNG " +
        "(original pixels: keep the folder private)",
    )
    .action(async (file: string, opts) =>
      setExit(
        await narrowFirst(file, opts, "plan", (await import("./src/cli/permissions.ts")).planWrites(opts)) ??
          await (await import("./src/cli/run_commands.ts")).planCommand(file, opts),
      )
    );

  withShardOptions(cli.command("run"))
    .description(
      "execute the plan: write the tidy tree, the report and the key file (with --shard after a split " +
        "scan, the plan is assembled from the scan's parts)",
    )
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .option("--yes", "do not ask for confirmation")
    .option("--show-phi", "show input paths and original values instead of masking them")
    .option("--all", "show every folder, series diff, patient and warning (default: the first ones)")
    .option("--no-color", "no colors even on a terminal (NO_COLOR=1 does the same)")
    .option("--jobs <n>", "sandboxed workers to use (default: one per core)", wholeNumber)
    .action(async (file: string, opts) =>
      setExit(
        await narrowFirst(file, opts, "run") ??
          await (await import("./src/cli/run_commands.ts")).runCommand(file, opts),
      )
    );

  withShardOptions(cli.command("scan"), "a hash of each file's path")
    .description(
      "a split scan for clusters: read only shard K's share of the input files (by path) and leave its " +
        "part in the output's state folder; with all N parts there, run --shard reads no header",
    )
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .option("--jobs <n>", "sandboxed workers to use (default: one per core)", wholeNumber)
    .action(async (file: string, opts) =>
      setExit(
        await narrowFirst(file, opts, "scan") ??
          await (await import("./src/cli/shard_commands.ts")).scanCommand(file, opts),
      )
    );

  cli.command("merge")
    .description("combine the reports of every shard of a run (--shard) into those of a single run")
    .argument("<output>", "the output root the shards wrote to")
    .action(async (output: string) =>
      setExit(
        await narrowMergeFirst(output) ??
          await (await import("./src/cli/shard_commands.ts")).mergeCommand(output),
      )
    );
  cli.command("verify")
    .description(
      "read a finished run's output back: it parses, carries the marks, holds no PHI of its source, " +
        "its UID references resolve, every file is accounted for; exit 4 on any finding",
    )
    .argument("<protocol>", "a .yaml or .ts protocol")
    .option("--input <dir>", "use this input root instead of the protocol's")
    .option("--output <dir>", "use this output root instead of the protocol's")
    .option("--json", "print the report as JSON")
    .option("--show-phi", "show the PHI values found and input paths instead of masks and numbers")
    .option("--no-color", "no colors (verify prints none; accepted as plan and run accept it)")
    .action(async (file: string, opts) =>
      setExit(
        await narrowFirst(file, opts, "verify") ??
          await (await import("./src/cli/verify_command.ts")).verifyCommand(file, opts),
      )
    );

  cli.command("rules")
    .description("print the effective de-identification table (PS3.15 rows, options, protocol rules)")
    .option("--protocol <file>", "apply this protocol's options and per-tag rules")
    .action(async (opts) => setExit(await (await import("./src/cli/rules_command.ts")).rulesCommand(opts)));

  return cli;
}

/** Run the command line with `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let code: number = EXIT.ok;
  setCommandLine(args);
  exitWithParent();
  try {
    await program((c) => (code = c)).parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are successes; anything else commander rejects is a usage error.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    // Errors raised on purpose say what to change, and carry their exit code.
    if (e instanceof DcmtidyError && (e.exitCode !== EXIT.internal || e instanceof EnvironmentError)) {
      console.error(e.describe());
      return e.exitCode;
    }
    // A Deno permission the process was not given: Deno's words name the path or variable and the flag.
    if (e instanceof Deno.errors.NotCapable) {
      console.error(
        `dcmtidy: a permission is missing: ${(e as Error).message} ` +
          "(dcmtidy permissions PROTOCOL prints every flag a command needs)",
      );
      return EXIT.usage;
    }
    // The environment's faults (a full disk, a read-only file system...) are not bugs: said in words.
    const fault = environmentFault(e);
    if (fault) {
      console.error(`dcmtidy: ${fault}: ${withoutPaths((e as Error).message)}`);
      return EXIT.internal;
    }
    console.error(`dcmtidy: internal error: ${describeError(e)}`);
    return EXIT.internal;
  }
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
