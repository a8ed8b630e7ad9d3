/**
 * The command line's commands, one file per group: each parses nothing (commander does, in
 * cli.ts), prints what it has to say and returns the exit code.
 *
 * @module
 */
export {
  dumpCommand,
  type DumpCommandOptions,
  modifyCommand,
  type ModifyCommandOptions,
} from "./engine_commands.ts";
export { describeError, UsageError } from "./errors.ts";
export { formatDuration, type Progress, type ProgressOptions, stderrProgress } from "./progress.ts";
export { describeProtocol, initCommand, validateCommand } from "./protocol_commands.ts";
export { rulesCommand } from "./rules_command.ts";
export { planCommand, type PlanCommandOptions, quarantinedLines, runCommand } from "./run_commands.ts";
export { mergeCommand, type ShardFlags, shardFromFlags } from "./shard_commands.ts";
export { verifyCommand, type VerifyCommandOptions, verifySummary } from "./verify_command.ts";
