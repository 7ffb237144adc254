// The dry run: before a migration starts, what it would do. For a short window the source
// measures how fast its guest dirties memory (the dirty log, with the guest running as
// usual), and over a probe session with the destination it measures what the real
// migration would meet there: whether the destination accepts this configuration,
// whether it can restore this machine's device state and in how long, the round trip,
// and the bandwidth of the real pipeline (the guest's own pages, encoded and checked as
// RAM frames are, then discarded there). predictMigration turns the figures into
// rounds, total time and the expected downtime.
//
//   source  HELLO(config, probe) ............ ACCEPT | REFUSE(why)
//           STATE (taken running) ........... SYNCED(restoreMs) | ERROR(why)
//           SYNC ............................ SYNCED                 (round trips)
//           PROBE* SYNC ..................... SYNCED                 (bandwidth)
//           CANCEL                            (the destination waits for the real source)

import { PAGE_SIZE } from '../../cpu/memory.js';
import { pageIsZero } from '../../machine/ram-snapshot.js';
import { encodePlain } from '../snapshot-codec.js';
import { DEFAULT_CONVERGENCE, predictMigration, type ConvergenceParameters, type Prediction } from './convergence.js';
import { type MigrationChannel, type MigrationSource, reason, reply } from './engine.js';
import { RamSender } from './ram-transfer.js';
import { decodeJson, encodeFrame, encodeJsonFrame, encodePreamble, type Frame, FrameType, MigrationError } from './stream.js';

export interface DryRunOptions {
  /** How long to watch the guest's dirty rate (default 1 s; the probe runs within it). */
  seconds?: number;
  parameters?: ConvergenceParameters;
  /** Bytes of the guest's pages to push through the probe at most (default 64 MiB). */
  probeBytes?: number;
  replyTimeoutMs?: number;
}

export interface DryRunResult extends Prediction {
  /** Bytes per second of guest pages through the pipeline. */
  bandwidth: number;
  rttMs: number;
  /** How long the destination took to restore this machine's device state. */
  restoreMs: number;
  /** Distinct pages dirtied per second in the window, as bytes. */
  dirtyRate: number;
  workingSetBytes: number;
  /** What the first round would send (pages ever written, and zero pages' headers). */
  firstRoundBytes: number;
}

const now = () => performance.now();
/** Probe frames (4 MiB each at most) sent before the bandwidth is timed. */
const WARM_UP_FRAMES = 4;

export async function dryRun(src: MigrationSource, channel: MigrationChannel, o: DryRunOptions = {}): Promise<DryRunResult> {
  const seconds = o.seconds ?? 1;
  const timeout = o.replyTimeoutMs ?? 30_000;
  const mem = src.memory;
  // The window starts with a clean log. Taking it costs the migration nothing: its first
  // round sends every page whatever the log says.
  mem.takeDirty();
  const windowStart = now();
  const answer = async (what: string, want: FrameType): Promise<Frame> => {
    const f = await reply(channel, timeout, what);
    if (f.type === want) return f;
    if (f.type === FrameType.Refuse) throw new MigrationError(`the destination refused: ${reason(f)}`);
    if (f.type === FrameType.Error) throw new MigrationError(`the destination could not take this machine: ${reason(f)}`);
    throw new MigrationError(`the destination answered frame type ${f.type} to the ${what}`);
  };
  /** Until the destination has taken everything sent so far. */
  const synced = async () => {
    await channel.send(encodeFrame(FrameType.Sync, new Uint8Array(0)));
    await answer('answer to SYNC', FrameType.Synced);
  };
  try {
    await channel.send([encodePreamble(), ...encodeJsonFrame(FrameType.Hello, { config: src.config(), probe: true })]);
    const accept = await answer('answer to the configuration', FrameType.Accept);
    const version = accept.payload.length ? (decodeJson(accept, 'ACCEPT') as { version?: { minor?: unknown } }).version : undefined;
    if (typeof version?.minor !== 'number' || version.minor < 1) throw new MigrationError('the destination is too old for a dry run (stream format 1.0)');

    const saveStart = now();
    const state = src.saveState();
    const saveMs = now() - saveStart;
    const stateFrame = encodeFrame(FrameType.State, encodePlain('machine', Object.fromEntries(state)));
    // Twice, and the faster counts: the first restore there runs cold code (and the
    // real switch-over, after this dry run, will not).
    let restoreMs = Infinity;
    for (let i = 0; i < 2; i++) {
      await channel.send(stateFrame);
      const restored = decodeJson(await answer('answer to the device state', FrameType.Synced), 'SYNCED') as { restoreMs?: unknown };
      restoreMs = Math.min(restoreMs, typeof restored.restoreMs === 'number' && restored.restoreMs >= 0 ? restored.restoreMs : 0);
    }

    let rttMs = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = now();
      await synced();
      rttMs = Math.min(rttMs, now() - t0);
    }

    // The guest's own pages, as the first round would send them: those ever written.
    const written: number[] = [];
    for (let p = 0; p < mem.pages && written.length * PAGE_SIZE < (o.probeBytes ?? 64 << 20); p++) if (mem.everWritten(p)) written.push(p);
    // Timed after a warm-up: the first frames run code the JavaScript engine has not
    // compiled yet, and the real migration's rounds would not.
    const sender = new RamSender(mem);
    const started = now();
    let t0 = started, sent = 0, frames = 0;
    for (const payload of sender.frames(written)) {
      await channel.send(encodeFrame(FrameType.Probe, payload));
      if (++frames === WARM_UP_FRAMES) {
        await synced();
        t0 = now();
      } else if (frames > WARM_UP_FRAMES) sent += payload.length;
      if (now() - started > (seconds * 1000) / 2) break;
    }
    await synced();
    const probeSeconds = (now() - t0) / 1000;
    const bandwidth = sent > 0 && probeSeconds > 0 ? sent / probeSeconds : Infinity;

    const rest = seconds * 1000 - (now() - windowStart);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    const dirtyPages = sender.dirtyCount();
    const window = (now() - windowStart) / 1000;
    // The first round sends pages that hold data; the rest go as 5-byte zero entries.
    let data = 0;
    for (let p = 0; p < mem.pages; p++) if (mem.everWritten(p) && !pageIsZero(mem, mem.hostOffset(mem.base + p * PAGE_SIZE))) data++;
    const firstRoundBytes = data * PAGE_SIZE + mem.pages * 5;
    const workingSetBytes = dirtyPages * (PAGE_SIZE + 5);
    const dirtyRate = workingSetBytes / window;
    const prediction = predictMigration({
      memoryBytes: firstRoundBytes, dirtyRate, workingSetBytes, bandwidth,
      stateBytes: stateFrame.reduce((n, p) => n + p.length, 0),
      // What a switch-over costs beyond sending: saving the state here, the answer's
      // round trip, the destination's restore.
      switchoverMs: saveMs + rttMs + restoreMs,
    }, o.parameters ?? DEFAULT_CONVERGENCE);
    return { ...prediction, bandwidth, rttMs, restoreMs, dirtyRate, workingSetBytes, firstRoundBytes };
  } finally {
    try {
      await channel.send(encodeFrame(FrameType.Cancel, new Uint8Array(0)));
    } catch { /* the destination may be gone */ }
    channel.close();
  }
}
