/**
 * The pixel layer: Pixel Data decoded frame by frame for every common transfer syntax, colour
 * models converted, lossless re-encoding, and transcoding a file to another transfer syntax.
 *
 * @module
 */
export { PixelError } from "./errors.ts";
