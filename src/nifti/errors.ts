/**
 * The errors of the NIfTI converter. Both derive from `DcmtidyError`; `convertSeries` catches
 * `NotConvertible` itself and reports it as the series' `notConverted` reason, so only
 * `NotDeidentifiedError` leaves the folder (a run records its message as the reason too).
 *
 * @module
 */
import { DcmtidyError } from "../util/errors.ts";

/** Why a series (or part of one) cannot be converted; the message is shown to the user as is. */
export class NotConvertible extends DcmtidyError {
  constructor(message: string) {
    super(message);
    this.name = "NotConvertible";
  }
}

/** Thrown when a sidecar is asked for from data that has not been de-identified. */
export class NotDeidentifiedError extends DcmtidyError {
  constructor() {
    super("sidecars are built from de-identified data only (PatientIdentityRemoved is not YES)");
    this.name = "NotDeidentifiedError";
  }
}
