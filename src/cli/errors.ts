/** Exit status for errors the user can fix (bad arguments, bad files, a failed pull). */
export const EXIT_USAGE = 2;
/** The bare-metal guest ran past --max-insns. */
export const EXIT_LIMIT = 3;
/** The guest kernel panicked. */
export const EXIT_PANIC = 4;

export class UsageError extends Error {
  override name = 'UsageError';
}
/** rvisor itself failed (a bug): never the guest's doing. */
export const EXIT_INTERNAL = 70;
