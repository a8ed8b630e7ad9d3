/** Starter protocols written by `dcmtidy init`: commented, valid, ready to edit. */

/** The JSON schema `init` writes beside a protocol, for editors (yaml-language-server completion). */
export const SCHEMA_FILE = "dcmtidy-protocol.schema.json";

const HEADER = `# yaml-language-server: $schema=./${SCHEMA_FILE}
# A dcmtidy study protocol. Check it with \`dcmtidy validate\`, preview with \`dcmtidy plan\`.
# Relative paths are relative to this file.
`;

const RESEARCH = `${HEADER}version: 1
name: my-study
input:
  root: ./raw                    # one folder, or a list
  include: ["**/*"]
  exclude: ["**/*.txt", "**/*.zip"]
output:
  root: ./tidy                   # must not overlap the input
  path: "{pseudo_id}/%t/%s_%d"   # folders: subject / study date / series number_description
  file: "{InstanceNumber:04}.dcm"
  mode: copy                     # de-identified files are always new copies
  on_collision: suffix           # never overwrite: add _2, _3 ...
report: report.csv               # inside output.root unless absolute
key: ../secure/key.csv           # original ID -> pseudonym, for the honest broker; keep it private
deidentify:
  profile: basic                 # PS3.15 Annex E Basic Application Level Confidentiality Profile
  options: [retain-longitudinal-modified-dates, clean-descriptors] # dates shifted; descriptions cleaned, not removed
  salt: { env: DCMTIDY_SALT }    # never put the salt here: export DCMTIDY_SALT=$(openssl rand -hex 32)
  patient_id: { hash: { prefix: "SUBJ-", length: 8 } }
  dates: { shift: { min_days: -730, max_days: -30 } }
  uids: remap
  private_tags: remove           # or keep-safe (PS3.15 E.3.10 safe private attributes)
  burned_in: quarantine          # ultrasound, screen captures ... may have names in the pixels
  tags: {}                       # per-tag overrides, e.g. SeriesDescription: keep
`;

const SORT_ONLY = `${HEADER}version: 1
name: my-sort
input:
  root: ./raw
output:
  root: ./sorted
  path: "%i/%t_%x/%s_%d"
  file: "{InstanceNumber:04}.dcm"
  mode: hardlink                 # copy | hardlink | symlink; files are not changed
`;

const DCM2DIR = `${HEADER}version: 1
name: my-dcm2dir
input:
  root: ./dicoms
output:
  root: ./organized
  path: "%i/%x_%t/%s_%d"         # dcm2dir's default layout
  file: "{InstanceNumber:04}.dcm" # dcm2dir keeps input names (%b); they may name the patient
report: report.csv               # SubjectID, ExamDate, ExamID, SeriesID, SeriesDescription, ...
deidentify:
  salt: { env: DCMTIDY_SALT }
  # tags_file: ./custom_anon_config.json   # a dcm2dir custom config works as-is
`;

/** The presets of `dcmtidy init --preset`. */
export const STARTERS = { research: RESEARCH, "sort-only": SORT_ONLY, dcm2dir: DCM2DIR } as const;

/** A preset name. */
export type StarterName = keyof typeof STARTERS;
