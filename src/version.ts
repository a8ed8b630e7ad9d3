/** The dcmtidy version, kept equal to deno.json's (a test checks). */
export const VERSION = "0.1.0";
