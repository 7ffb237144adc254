// Catches what would end the VMM: an exception thrown from a callback nobody awaits
// (a timer, a socket event) or a rejection nobody handles. Node ends the process on
// either; a fuzz target installs this for its run, so the harness can report the input
// that caused it instead of dying with it.

export class ProcessErrors {
  private readonly seen: string[] = [];
  private readonly onException = (e: unknown) => this.seen.push(`uncaught exception: ${describe(e)}`);
  private readonly onRejection = (e: unknown) => this.seen.push(`unhandled rejection: ${describe(e)}`);

  constructor() {
    process.on('uncaughtException', this.onException);
    process.on('unhandledRejection', this.onRejection);
  }

  /** Throws what was caught since the last call (the input that just ran caused it). */
  check(): void {
    if (this.seen.length === 0) return;
    const all = this.seen.splice(0).join('\n');
    throw new Error(all);
  }

  close(): void {
    process.off('uncaughtException', this.onException);
    process.off('unhandledRejection', this.onRejection);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.stack ?? e.message : String(e);
}

/** One turn of the event loop: timers' and sockets' callbacks queued so far have run. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
