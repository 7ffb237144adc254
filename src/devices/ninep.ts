// What virtio-9p needs from a 9P server: one request message in, one reply message out.
// The server (src/share, over a host directory) knows nothing of virtqueues.

export interface NinePServer {
  /** The mount tag the guest uses (mount -t 9p TAG /mnt). */
  readonly tag: string;
  /** Handles one complete 9P message (size[4] type[1] tag[2] ...) and returns the complete
   *  reply, an Rlerror for anything it refuses. `maxReply` is the room the guest gave for
   *  the reply. Never throws for a malformed request. */
  handle(request: Uint8Array, maxReply: number): Uint8Array;
  /** Session state for a snapshot (snapshot.ts conventions): fids as paths, reopened by
   *  restore. Absent: a restored guest's fids are unknown to the server (EBADF). */
  save?(): unknown;
  restore?(state: unknown): void;
}
