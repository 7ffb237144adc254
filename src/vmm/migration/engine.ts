// The two ends of a pre-copy migration, over any channel that carries frames both ways
// (a TCP or Unix socket in rvisor; an in-memory pair in tests). What they move is given
// by small interfaces, so the engine knows neither the Vm nor the transport:
//
//   source       HELLO(config, mirrored disks) ......... ACCEPT(version) | REFUSE(why)
//                RAM* DISK* SYNC ....................... SYNCED      (round after round,
//                                                                     guest running)
//                [guest paused] RAM* DISK* STATE END ... RESUMED | ERROR(why)
//
// Every fault before RESUMED leaves the source's guest running as it was: a refusal, a
// cut connection, a destination that fails to start the machine, a cancel. Only after
// RESUMED does the source release its VM; the destination sends it before its guest
// runs. A dry run (dry-run.ts) is a session of its own that ends with CANCEL.

import { PAGE_SIZE, type GuestMemory } from '../../cpu/memory.js';
import type { MachineSnapshot } from '../../machine/virt-snapshot.js';
import { decodePlain, encodePlain } from '../snapshot-codec.js';
import { Convergence, DEFAULT_CONVERGENCE, type ConvergenceParameters } from './convergence.js';
import type { BlockBackend } from '../../devices/block.js';
import { applyDiskFrame, diskFrames, type LoggedDisk, MIRROR_BLOCK } from './disk-mirror.js';
import { RamReceiver, RamSender } from './ram-transfer.js';
import { decodeJson, decodeRam, encodeFrame, encodeJsonFrame, encodePreamble, type Frame, FrameType, MIGRATION_VERSION, MigrationError } from './stream.js';

/** Frames both ways. `next` rejects when the peer is gone. */
export interface MigrationChannel {
  send(parts: Uint8Array[]): Promise<void>;
  next(): Promise<Frame>;
  close(): void;
}

/** What the source migrates. */
export interface MigrationSource {
  memory: GuestMemory;
  /** The configuration the destination must match (memory size, harts, devices). */
  config(): Record<string, unknown>;
  pause(): void;
  resume(): void;
  /** Share of vCPU time to withhold (auto-converge); 0 lifts it. */
  throttle(share: number): void;
  /** The machine's state without a RAM section, taken while paused. */
  saveState(): MachineSnapshot;
  /** Local disks to copy along (QMP migrate's blk), by their index in the spec. */
  mirror?: readonly { index: number; disk: LoggedDisk }[];
}

export type MigrationStatus = 'none' | 'setup' | 'active' | 'device' | 'completed' | 'failed' | 'cancelled';

/** query-migrate's figures, kept current as the migration goes. */
export interface MigrationStats {
  status: MigrationStatus;
  iterations: number;
  /** Bytes put on the wire. */
  transferred: number;
  /** Guest RAM in bytes, and what is dirty now (remaining). */
  total: number;
  remaining: number;
  pagesSent: number;
  /** Pages dirtied per second in the last round. */
  dirtyPagesRate: number;
  /** Bytes per second of the last round. */
  bandwidth: number;
  expectedDowntimeMs: number;
  downtimeMs?: number;
  setupMs?: number;
  totalMs?: number;
  throttle: number;
  error?: string;
}

export interface SourceOptions {
  parameters?: ConvergenceParameters;
  /** Bytes per second at most (QEMU's max-bandwidth); undefined is unlimited. */
  maxBandwidth?: number;
  /** How long to wait for the destination's answers. */
  replyTimeoutMs?: number;
  /** Set to cancel: the next frame boundary sends CANCEL and gives up. */
  cancelled?: () => boolean;
  onStats?: (s: MigrationStats) => void;
}

export interface DestinationOptions {
  /** How long to wait for each frame (default 60 s). */
  timeoutMs?: number;
}

const now = () => performance.now();

/** The figures of a migration that has sent nothing yet. */
export function initialStats(ramBytes: number): MigrationStats {
  return {
    status: 'setup', iterations: 0, transferred: 0, total: ramBytes, remaining: ramBytes, pagesSent: 0,
    dirtyPagesRate: 0, bandwidth: 0, expectedDowntimeMs: 0, throttle: 0,
  };
}

/** The peer's next frame, or a MigrationError once `timeoutMs` has passed without one. */
export async function reply(channel: MigrationChannel, timeoutMs: number, what: string): Promise<Frame> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      channel.next(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new MigrationError(`no ${what} from the destination within ${timeoutMs / 1000} s`)), timeoutMs); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why, as a REFUSE or ERROR frame says it. */
export function reason(f: Frame): string {
  const v = decodeJson(f, 'answer') as { error?: unknown };
  return typeof v?.error === 'string' ? v.error : 'no reason given';
}

/** Runs a migration from the source's side; resolves once the destination runs the
 *  guest (the caller then releases its VM), rejects with the guest running here. */
export async function migrateOut(src: MigrationSource, channel: MigrationChannel, o: SourceOptions = {}): Promise<MigrationStats> {
  const started = now();
  const stats = initialStats(src.memory.size);
  const publish = () => o.onStats?.({ ...stats });
  const timeout = o.replyTimeoutMs ?? 30_000;
  const send = async (parts: Uint8Array[]) => {
    await channel.send(parts);
    stats.transferred += parts.reduce((n, p) => n + p.length, 0);
  };
  let paused = false;
  try {
    publish();
    const mirror = src.mirror ?? [];
    await send([encodePreamble(), ...encodeJsonFrame(FrameType.Hello, { config: src.config(), mirror: mirror.map((m) => ({ index: m.index, size: m.disk.size })) })]);
    const answer = await reply(channel, timeout, 'answer to the configuration');
    if (answer.type === FrameType.Refuse) throw new MigrationError(`the destination refused: ${reason(answer)}`);
    if (answer.type !== FrameType.Accept) throw new MigrationError(`the destination answered frame type ${answer.type} to the configuration`);
    // A 1.0 destination accepts with an empty frame and knows no SYNC.
    const peer = answer.payload.length ? (decodeJson(answer, 'ACCEPT') as { version?: { minor?: unknown } }).version : undefined;
    const canSync = typeof peer?.minor === 'number' && peer.minor >= 1;
    /** Waits until the destination has applied everything sent so far. */
    const synced = async () => {
      if (!canSync) return;
      await send(encodeFrame(FrameType.Sync, new Uint8Array(0)));
      const f = await reply(channel, timeout, 'answer to SYNC');
      if (f.type === FrameType.Error) throw new MigrationError(`the destination failed: ${reason(f)}`);
      if (f.type === FrameType.Cancel) throw new MigrationError('the destination cancelled the migration');
      if (f.type !== FrameType.Synced) throw new MigrationError(`the destination answered frame type ${f.type} to SYNC`);
    };
    // The switch-over's code runs once now, while the guest runs: V8 compiles a function
    // at its first call, and these first calls would otherwise land in the downtime.
    stateFrame(src);
    stats.setupMs = now() - started;
    stats.status = 'active';
    publish();

    const sender = new RamSender(src.memory);
    const conv = new Convergence(o.parameters ?? DEFAULT_CONVERGENCE);
    const sendPages = async (pages: number[]) => {
      const t0 = now();
      const bytes0 = stats.transferred;
      for (const payload of sender.frames(pages)) {
        if (o.cancelled?.()) throw new CancelledError();
        await send(encodeFrame(FrameType.Ram, payload));
        if (o.maxBandwidth) {
          // Paced: never ahead of what the limit allows since the round began.
          const ahead = ((stats.transferred - bytes0) / o.maxBandwidth) * 1000 - (now() - t0);
          if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
        }
      }
      stats.pagesSent = sender.pagesSent;
    };
    // The disks' blocks of a round: the log taken first, as for RAM, so a write while
    // they are read is caught for the next round; the first round sends every block.
    let firstDiskRound = true;
    const sendDisks = async () => {
      const all = firstDiskRound;
      firstDiskRound = false;
      for (const m of mirror) {
        const dirty = m.disk.takeDirty();
        const blocks = all ? Array.from({ length: m.disk.dirty.length }, (_, b) => b) : dirty;
        for (const payload of diskFrames(m.index, m.disk, blocks)) {
          if (o.cancelled?.()) throw new CancelledError();
          await send(encodeFrame(FrameType.Disk, payload));
        }
      }
    };
    const diskDirtyBytes = () => mirror.reduce((n, m) => n + m.disk.dirtyCount() * (MIRROR_BLOCK + 5), 0);
    for (;;) {
      const pages = sender.nextRound();
      const t0 = now();
      const bytes0 = stats.transferred;
      await sendPages(pages);
      await sendDisks();
      // The round counts as sent once it is applied there: its time is the real rate.
      await synced();
      const r = { bytes: stats.transferred - bytes0, seconds: (now() - t0) / 1000 };
      stats.iterations++;
      const dirtyPages = sender.dirtyCount();
      const d = conv.afterRound({ bytesSent: r.bytes, seconds: r.seconds, dirtyBytes: dirtyPages * (PAGE_SIZE + 5) + diskDirtyBytes() });
      stats.remaining = dirtyPages * PAGE_SIZE;
      stats.dirtyPagesRate = r.seconds > 0 ? dirtyPages / r.seconds : 0;
      stats.bandwidth = Number.isFinite(d.bandwidth) ? d.bandwidth : 0;
      stats.expectedDowntimeMs = d.expectedDowntimeMs;
      if (d.throttle !== stats.throttle) src.throttle(d.throttle);
      stats.throttle = d.throttle;
      publish();
      if (d.action === 'stop-and-copy') break;
    }

    stats.status = 'device';
    const pausedAt = now();
    src.pause();
    paused = true;
    publish();
    await sendPages(sender.nextRound());
    // The guest is paused and virtio-blk completes each request before it returns: the
    // disks' last dirty blocks are all there are.
    await sendDisks();
    await send(stateFrame(src));
    await send(encodeFrame(FrameType.End, new Uint8Array(0)));
    const done = await reply(channel, timeout, 'confirmation that the guest runs');
    if (done.type === FrameType.Error) throw new MigrationError(`the destination could not start the guest: ${reason(done)}`);
    if (done.type !== FrameType.Resumed) throw new MigrationError(`the destination answered frame type ${done.type} instead of RESUMED`);
    stats.downtimeMs = now() - pausedAt;
    stats.totalMs = now() - started;
    stats.remaining = 0;
    stats.status = 'completed';
    publish();
    channel.close();
    return stats;
  } catch (e) {
    const cancelled = e instanceof CancelledError;
    if (cancelled) {
      try {
        await channel.send(encodeFrame(FrameType.Cancel, new Uint8Array(0)));
      } catch { /* the peer may be gone already */ }
    }
    channel.close();
    if (stats.throttle) src.throttle(0);
    if (paused) src.resume();
    stats.status = cancelled ? 'cancelled' : 'failed';
    stats.error = cancelled ? 'cancelled' : (e as Error).message;
    stats.throttle = 0;
    publish();
    throw cancelled ? new MigrationError('migration cancelled; the guest runs on here') : e;
  }
}

class CancelledError extends Error {}

/** The STATE frame: the machine's state without RAM (that goes page by page). */
function stateFrame(src: MigrationSource): Uint8Array[] {
  const state = src.saveState();
  if (state.has('ram')) throw new MigrationError('the machine state carries RAM: it goes page by page');
  return encodeFrame(FrameType.State, encodePlain('machine', Object.fromEntries(state)));
}

/** What the destination offers: its configuration check, the RAM the pages go into,
 *  and how it starts the guest. */
export interface MigrationDestination {
  /** The RAM of a paused machine that has never run: pages are written as they come. */
  memory: GuestMemory;
  /** Why this configuration cannot be taken here, or undefined to accept it. */
  check(config: Record<string, unknown>): string | undefined;
  /** Restores the CPU and device state (no RAM section: the RAM is in place); throws if
   *  it cannot. The guest does not run yet. */
  start(state: MachineSnapshot): Promise<void>;
  /** The machine's own state now (paused, never run), without RAM: the destination
   *  restores it over itself once before the pages come, so the restore's code is
   *  compiled (V8 compiles a function at its first call) before the downtime needs it. */
  ownState?(): MachineSnapshot;
  /** Lets the restored guest run: called once the source has been told (RESUMED), so a
   *  source that can no longer be told keeps the only running copy. */
  run(): void;
  /** Disks a source may copy its local disks into (writable, not shared), by index. */
  mirrorTargets?(): ReadonlyMap<number, BlockBackend>;
}

/** Runs a migration from the destination's side; resolves 'migrated' once the guest runs
 *  here, or 'probed' after a source's dry run (the destination waits on for the real one). */
export async function migrateIn(dst: MigrationDestination, channel: MigrationChannel, o: DestinationOptions = {}): Promise<'migrated' | 'probed'> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const fail = async (why: string, type = FrameType.Error): Promise<never> => {
    try {
      await channel.send(encodeJsonFrame(type, { error: why }));
    } catch { /* the source may be gone */ }
    channel.close();
    throw new MigrationError(why);
  };
  const next = () => reply(channel, timeoutMs, 'frame');
  const hello = await next();
  if (hello.type !== FrameType.Hello) return fail(`the stream starts with frame type ${hello.type}, not HELLO`, FrameType.Refuse);
  const { config, probe, mirror } = decodeJson(hello, 'HELLO') as { config?: unknown; probe?: unknown; mirror?: unknown };
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return fail('HELLO carries no configuration', FrameType.Refuse);
  const why = dst.check(config as Record<string, unknown>);
  if (why !== undefined) return fail(why, FrameType.Refuse);
  const mirrored = new Map<number, BlockBackend>();
  const targets = dst.mirrorTargets?.() ?? new Map<number, BlockBackend>();
  for (const m of Array.isArray(mirror) ? mirror as { index?: unknown; size?: unknown }[] : []) {
    const target = typeof m?.index === 'number' ? targets.get(m.index) : undefined;
    if (!target) return fail(`the source copies its disk ${String(m?.index)}, which is no local writable disk here`, FrameType.Refuse);
    if (target.size !== m.size) return fail(`the source's disk ${String(m.index)} has ${String(m.size)} bytes, this one ${target.size}`, FrameType.Refuse);
    mirrored.set(m.index as number, target);
  }
  if (probe !== true && dst.ownState) {
    try {
      await dst.start(machineState(encodePlain('machine', Object.fromEntries(dst.ownState())))!);
    } catch (e) {
      return fail(`this machine cannot restore its own state: ${(e as Error).message}`, FrameType.Refuse);
    }
  }
  await channel.send(encodeJsonFrame(FrameType.Accept, { version: MIGRATION_VERSION }));
  if (probe === true) return probed(dst, channel, next);
  const ram = new RamReceiver(dst.memory);
  let state: MachineSnapshot | undefined;
  /** Applies a frame of RAM or disk blocks; a malformed one, or a disk that fails
   *  here, ends the migration with the reason told to the source. */
  const apply = (f: Frame): string | undefined => {
    try {
      if (f.type === FrameType.Ram) ram.apply(f.payload);
      else applyDiskFrame(f.payload, mirrored);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  for (;;) {
    const f = await next();
    if (f.type === FrameType.Ram || f.type === FrameType.Disk) {
      const why = apply(f);
      if (why !== undefined) return fail(why);
    } else if (f.type === FrameType.Sync) await channel.send(encodeFrame(FrameType.Synced, new Uint8Array(0)));
    else if (f.type === FrameType.State) {
      if (state) return fail('two STATE frames');
      state = machineState(f.payload);
      if (!state) return fail('the STATE frame holds no sections');
    } else if (f.type === FrameType.End) break;
    else if (f.type === FrameType.Cancel) {
      channel.close();
      throw new MigrationError('the source cancelled the migration');
    } else return fail(`unexpected frame type ${f.type}`);
  }
  if (!state) return fail('the stream ended without the machine state');
  try {
    for (const disk of mirrored.values()) disk.flush();
    await dst.start(state);
  } catch (e) {
    return fail((e as Error).message);
  }
  // Told first, run second: a resumed machine's first slice would run before the
  // answer went out (its run loop continues in a microtask), inside the guest's downtime.
  await channel.send(encodeFrame(FrameType.Resumed, new Uint8Array(0)));
  channel.close();
  dst.run();
  return 'migrated';
}

function machineState(payload: Uint8Array): MachineSnapshot | undefined {
  const plain = decodePlain('machine', payload);
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) return undefined;
  return new Map(Object.entries(plain as Record<string, unknown>));
}

/** The destination's side of a dry run (dry-run.ts): the source's running state is
 *  restored into this paused machine, which has never run (the real migration restores
 *  over it), and timed; probe pages are dropped after their checks. Whatever the dry run
 *  finds, the destination goes on waiting for the real source. */
async function probed(dst: MigrationDestination, channel: MigrationChannel, next: () => Promise<Frame>): Promise<'probed'> {
  const answer = async (parts: Uint8Array[]) => {
    try {
      await channel.send(parts);
    } catch { /* the source is gone: the dry run is over */ }
  };
  try {
    for (;;) {
      const f = await next();
      if (f.type === FrameType.Cancel) break;
      if (f.type === FrameType.Probe) decodeRam(f.payload, PAGE_SIZE, dst.memory.pages);
      else if (f.type === FrameType.Sync) await answer(encodeFrame(FrameType.Synced, new Uint8Array(0)));
      else if (f.type === FrameType.State) {
        const state = machineState(f.payload);
        if (!state) throw new MigrationError('the STATE frame holds no sections');
        const t0 = now();
        await dst.start(state);
        await answer(encodeJsonFrame(FrameType.Synced, { restoreMs: now() - t0 }));
      } else throw new MigrationError(`unexpected frame type ${f.type} in a dry run`);
    }
  } catch (e) {
    await answer(encodeJsonFrame(FrameType.Error, { error: (e as Error).message }));
  }
  channel.close();
  return 'probed';
}
