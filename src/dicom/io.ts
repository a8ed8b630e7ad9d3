/**
 * Reading DICOM files from disk and writing them back, with memory that does not grow with the
 * size of the Pixel Data: large files are read as their header bytes plus a reference to where
 * the Pixel Data value lies, and the writer streams that range from the input in chunks.
 *
 * Each operation has an asynchronous form and a synchronous one (`...Sync`) over the same logic:
 * the reading steps are a generator that asks for byte ranges, and the writer's plan is a list of
 * chunks. The synchronous forms are for code that handles one file at a time anyway (the run's
 * workers): a blocking call costs a few microseconds where an awaited one costs a round trip
 * through the event loop, several times per file.
 *
 * The pieces: `read_file.ts` (the two readers), `read_plan.ts` (the reading steps and their
 * options), `write_file.ts` (the two writers), `_write_chunks.ts` (gathered writes and source
 * copies), `file_io.ts` (byte ranges, existence, same file), `reusable_buffer.ts`.
 *
 * @module
 */
export { exists, existsSync, readAt, readAtSync } from "./file_io.ts";
export { readDicomFile, readDicomFileSync } from "./read_file.ts";
export { DEFAULT_WHOLE_FILE_LIMIT, type ReadFileOptions } from "./read_plan.ts";
export { ReusableBuffer } from "./reusable_buffer.ts";
export { writeDicomFile, writeDicomFileSync, type WriteFileOptions } from "./write_file.ts";
