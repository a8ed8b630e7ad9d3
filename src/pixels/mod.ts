/**
 * The pixel layer: Pixel Data decoded frame by frame for every common transfer syntax, colour
 * models converted, lossless re-encoding, and transcoding a file to another transfer syntax.
 *
 * @module
 */
export { PixelError } from "./errors.ts";
export { frameBytes, type PixelFormat, readPixelFormat } from "./format.ts";
export { openPixelSource, type PixelSource } from "./source.ts";
export {
  type DecodedFrame,
  decodedFrames,
  decodeFrame,
  prepareAllDecoders,
  prepareDecoder,
} from "./decode.ts";
export { encodeFrame, prepareEncoder, type WritableCoding } from "./encode.ts";
export { expandYbr422, type Palette, paletteToRgb, readPalette, ybrFullToRgb } from "./color.ts";
export {
  type Coding,
  type Lossy,
  parseTargetSyntax,
  type SyntaxInfo,
  syntaxInfo,
  syntaxLabel,
  WRITABLE,
} from "./syntaxes.ts";
export { prepareTranscoding, transcode, type Transcoded, transcodeSync } from "./transcode.ts";
export { codecBinaries, provideCodecBinaries, WASM_CODECS, type WasmCodec } from "./wasm.ts";
export { crc32, encodePng } from "./png.ts";
export {
  displayFrame,
  type DisplayImage,
  type DisplayOptions,
  type DisplayWindow,
  drawOutline,
  fillRegion,
  OUTLINE_COLOUR,
  OUTLINE_WIDTH,
  type PreviewPngs,
  previewPngs,
  type PreviewRegion,
  toRgb,
} from "./preview.ts";
export {
  findText,
  type OcrBinaries,
  ocrBinaries,
  type OcrImage,
  type OcrOptions,
  provideOcrBinaries,
  type TextBox,
} from "./ocr.ts";
