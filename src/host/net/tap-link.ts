// A host TAP device as an Ethernet wire. Node cannot issue the TUNSETIFF ioctl that makes a
// tap, so a small privileged helper does: socat holds the tap's file descriptor and carries
// each frame as one UDP datagram on loopback to and from this link's socket,
//   socat UDP4:127.0.0.1:OURS,bind=127.0.0.1:0 TUN,tun-type=tap,tun-name=NAME,iff-no-pi,iff-up
// The tap lives while socat does. close() ends socat; so does the end of the thread that
// started it (setpriv --pdeathsig), so a killed rvisor or daemon worker leaves no tap behind.
//
// socat's socket is a connected one (UDP4, not UDP4-SENDTO): it takes datagrams from this
// link's port only, and when that port is gone, its next frame is refused and socat exits,
// which is right: nothing is left to carry frames to.

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';
import { MAX_TAGGED } from '../../net/switch/index.js';
import { IFNAME_PATTERN } from '../../vmm/spec.js';

/** An Ethernet header: the tap refuses anything shorter, and a refused write ends socat. */
const MIN_FRAME = 14;
const IFNAME = new RegExp(IFNAME_PATTERN);
/** The helpers closed but not yet ended, by interface: a reset closes a NIC's link and
 *  opens it again at once, and a new socat would find the tap still held by the old. */
const ending = new Map<string, Promise<unknown>>();

export interface TapOptions {
  /** The host interface: made by socat, or a persistent tap (ip tuntap add) it attaches to. */
  ifname: string;
  /** The helper; default socat on PATH. */
  socat?: string;
  /** How long socat may take to make the tap (default 15 s: it takes some 50 ms, but a
   *  host busy with other guests can hold a new process back). */
  timeoutMs?: number;
}

export interface TapStats {
  rxFrames: number;
  txFrames: number;
  /** Datagrams not from socat's port. */
  rxForeign: number;
  rxMalformed: { short: number; oversize: number };
  /** Frames from the guest not sent: runts, oversized, or socat gone. */
  txDropped: number;
  /** Frames the socket could not send. */
  txErrors: number;
}

/** Why `ifname` cannot name a Linux interface, or null when it can. */
export function checkIfname(ifname: string): string | null {
  return IFNAME.test(ifname) ? null : `'${ifname}' is not an interface name (1 to 15 of A-Z a-z 0-9 _ . -, not . or ..)`;
}

export class TapLink implements EthernetEndpoint {
  readonly stats: TapStats = { rxFrames: 0, txFrames: 0, rxForeign: 0, rxMalformed: { short: 0, oversize: 0 }, txDropped: 0, txErrors: 0 };
  private peer: EthernetPort | null = null;
  private closed = false;
  private helperPort = 0;

  private constructor(private readonly socket: dgram.Socket, private helper: ChildProcess | null, private readonly helperEnded: Promise<unknown>, readonly ifname: string) {}

  /** Starts socat and resolves once the tap is up; rejects with a clear message when not. */
  static async open(o: TapOptions, warn: (message: string) => void = () => {}): Promise<TapLink> {
    const bad = checkIfname(o.ifname);
    if (bad) throw new Error(`tap: ${bad}`);
    const socat = findExecutable(o.socat ?? 'socat');
    if (!socat) throw new Error(`tap: socat is not installed (apt-get install socat)${o.socat ? `: no executable ${o.socat}` : ''}`);
    await ending.get(o.ifname);
    // Bound before socat starts: a frame socat sent to a port nobody holds would be
    // refused, and socat would exit.
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (e) => warn(`tap ${o.ifname}: ${e.message}`));
    // socat binds port 0 and this link reads the port it got from /proc: no other process
    // can take it in between, as it could a port picked here and handed to socat.
    const args = [`UDP4:127.0.0.1:${socket.address().port},bind=127.0.0.1:0`, `TUN,tun-type=tap,tun-name=${o.ifname},iff-no-pi,iff-up`];
    const helper = startSocat(socat, args, o.ifname);
    const link = new TapLink(socket, helper.child, helper.ended, o.ifname);
    let ended: string | null = null, opened = false;
    void helper.ended.then((why) => {
      ended = why;
      if (!opened || link.closed) return;
      link.helper = null;
      warn(`${why}; the NIC's link is down`);
    });
    try {
      link.helperPort = await waitForTap(helper.child, o.ifname, socket.address().port, o.timeoutMs ?? 15_000, () => ended);
    } catch (e) {
      link.close();
      throw e;
    }
    opened = true;
    // Frames before this (the new tap's first IPv6 solicitations) had no listener, and
    // there was no guest yet to take them.
    socket.on('message', (msg, rinfo) => link.receive(msg, rinfo));
    return link;
  }

  /** This link's end of the loopback wire to socat. */
  get localPort(): number {
    return this.socket.address().port;
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  deliver(frame: Uint8Array): void {
    if (this.closed) return;
    if (!this.helper || frame.length < MIN_FRAME || frame.length > MAX_TAGGED) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.socket.send(frame, this.helperPort, '127.0.0.1', (e) => {
      if (e) this.stats.txErrors++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.helper) {
      this.helper.kill('SIGTERM');
      const ended = this.helperEnded.finally(() => ending.get(this.ifname) === ended && ending.delete(this.ifname));
      ending.set(this.ifname, ended);
    }
    this.socket.close();
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (rinfo.address !== '127.0.0.1' || rinfo.port !== this.helperPort) this.stats.rxForeign++;
    else if (msg.length < MIN_FRAME) this.stats.rxMalformed.short++;
    else if (msg.length > MAX_TAGGED) this.stats.rxMalformed.oversize++;
    else {
      this.stats.rxFrames++;
      this.peer?.deliver(new Uint8Array(msg));
    }
  }
}

/** socat under setpriv, which gives it a signal when the thread that started it ends (when
 *  there is no setpriv, socat outlives a killed rvisor until the tap's next frame is
 *  refused). `ended` says why it ended, in the user's terms. */
function startSocat(socat: string, args: string[], ifname: string): { child: ChildProcess; ended: Promise<string> } {
  const setpriv = findExecutable('setpriv');
  const child = setpriv ? spawn(setpriv, ['--pdeathsig', 'TERM', '--', socat, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(socat, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const ended = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(`tap ${ifname}: cannot start socat: ${e.message}`));
    // 'close', not 'exit': by then its stderr has been read to the end.
    child.once('close', (code, signal) => resolve(explainSocat(ifname, stderr, code ?? signal)));
  });
  return { child, ended };
}

/** Resolves with socat's UDP port once it holds the tap (named in the fdinfo of its tun
 *  file descriptor, as Linux shows it) and the tap is up. A tap of that name that exists
 *  already (a persistent one, or another process's) is not enough. */
async function waitForTap(helper: ChildProcess, ifname: string, ourPort: number, timeoutMs: number, ended: () => string | null): Promise<number> {
  let missing = 'socat to start';
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const why = ended();
    if (why !== null) throw new Error(why);
    const state = helper.pid === undefined ? missing : helperPortOnceUp(helper.pid, ifname, ourPort);
    if (typeof state === 'number') return state;
    missing = state;
  }
  // What was still missing says where a slow or odd host got stuck.
  throw new Error(`tap ${ifname}: socat did not bring the tap up within ${timeoutMs} ms (waiting for ${missing})`);
}

/** socat's UDP port once everything is in place, else what is still missing. */
function helperPortOnceUp(pid: number, ifname: string, ourPort: number): number | string {
  let step = 'socat to start';
  try {
    const sockets = new Set<string>();
    let holdsTap = false;
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[')) sockets.add(target.slice(8, -1));
      else if (target === '/dev/net/tun') holdsTap ||= readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').includes(`iff:\t${ifname}\n`);
    }
    if (!holdsTap) return 'socat to hold the tap';
    step = 'the tap to be up';
    // Held by socat (above), and no longer here: someone moved it to another namespace the
    // moment it appeared (ip link set NAME netns NS), where it is theirs to bring up.
    const flags = `/sys/class/net/${ifname}/flags`;
    if (existsSync(flags) && !(parseInt(readFileSync(flags, 'utf8'), 16) & 1)) return step;
    step = "socat's UDP socket";
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const peer = `0100007F:${ourPort.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const line of readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[2] === peer && sockets.has(f[9])) return parseInt(f[1].split(':')[1], 16);
    }
  } catch {
    // socat is still starting (or has ended: its exit says why).
  }
  return step;
}

/** socat's last error, said in the user's terms. */
function explainSocat(ifname: string, stderr: string, status: number | string | null): string {
  const last = stderr.trim().split('\n').pop()?.replace(/^\S+ \S+ socat\[\d+\] [A-Z] /, '') || `exited with status ${status}`;
  const why = /"\/dev\/net\/tun".*No such file/.test(last) ? 'this host has no /dev/net/tun (modprobe tun)'
    : /Permission denied|Operation not permitted/.test(last) ? 'needs root (CAP_NET_ADMIN)'
      : /TUNSETIFF.*busy/.test(last) ? 'in use by another process'
        : /TUNSETIFF.*Invalid argument/.test(last) ? 'the name is taken by an interface that is not a tap'
          : /File descriptor in bad state/.test(last) ? 'the tap was deleted'
            : 'socat ended';
  return `tap ${ifname}: ${why} (socat: ${last})`;
}

/** `name` if it has a slash, else its first match on PATH; null when not executable. */
function findExecutable(name: string): string | null {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // Not here.
    }
  }
  return null;
}
