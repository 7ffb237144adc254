// One GDB connection: acknowledgement mode, thread selection, and the packets GDB uses
// against a bare-metal or kernel target. Transport-free (bytes in, bytes out) so that
// tests drive it directly; server.ts attaches it to a socket.

import { encodePacket, fromHex, PACKET_SIZE, PacketReader, regFromHex, regToHex, toHex } from './packet.js';
import { G_REGS, registerByNumber, TARGET_XML } from './registers.js';
import { stopReply, threadId } from './stop-reply.js';
import type { Breakpoint, DebugTarget, StopReason } from './target.js';

export interface GdbSessionOptions {
  target: DebugTarget;
  write: (bytes: Buffer) => void;
  /** Ends the connection (after D and k). */
  close: () => void;
  /** GDB's `monitor CMD` (qRcmd): the human monitor, when the VMM has one. */
  monitor?: (line: string) => Promise<string>;
}

const BP_KINDS = ['sw', 'hw', 'write', 'read', 'access'] as const;
const SUPPORTED = `PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+`;

export class GdbSession {
  private readonly reader = new PacketReader();
  private noAck = false;
  private lastSent: Buffer | undefined;
  /** Hart for register and memory packets (Hg) and for steps (Hc / the stopped hart). */
  private current = 0;
  /** Waiting for the target to stop: the next stop is GDB's reply. */
  private running = false;
  private lastStop: StopReason;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: GdbSessionOptions) {
    // QEMU stops the VM when a debugger attaches; GDB then asks '?' for the reason.
    o.target.halt();
    this.lastStop = { kind: 'paused', hart: 0 };
    this.unsubscribe = o.target.onStop((r) => this.stopped(r));
  }

  /** The connection is gone: a debugger that vanished without D must not leave
   *  breakpoints behind that would stop the machine later. The run state stays as it
   *  is (QEMU's behaviour too): a stopped machine waits for the next debugger or cont. */
  dispose(): void {
    this.unsubscribe();
    this.o.target.clearBreakpoints();
  }

  receive(data: Uint8Array): void {
    for (const f of this.reader.push(data)) {
      switch (f.kind) {
        case 'ack': break;
        case 'nack': if (this.lastSent) this.o.write(this.lastSent); break;
        case 'bad-checksum': if (!this.noAck) this.o.write(Buffer.from('-')); break;
        case 'interrupt':
          if (this.running) {
            this.o.target.halt();
            this.stopped({ kind: 'paused', hart: this.current });
          }
          break;
        case 'packet':
          if (!this.noAck) this.o.write(Buffer.from('+'));
          this.handle(Buffer.from(f.data).toString('latin1'));
          break;
      }
    }
  }

  private reply(payload: string): void {
    this.lastSent = encodePacket(payload);
    this.o.write(this.lastSent);
  }

  private stopped(r: StopReason): void {
    this.lastStop = r;
    if (r.kind !== 'exit') this.current = r.hart;
    if (!this.running) return;
    this.running = false;
    this.reply(stopReply(r));
  }

  private resume(step: number | undefined, addr?: string): void {
    if (addr) {
      const pc = BigInt(`0x${addr}`);
      this.o.target.writeRegister(step ?? this.current, { kind: 'pc' }, pc);
    }
    this.running = true;
    this.o.target.resume(step);
  }

  private handle(p: string): void {
    const t = this.o.target;
    switch (p[0]) {
      case '?': return this.reply(stopReply(this.lastStop));
      case 'q': return this.query(p);
      case 'Q':
        if (p === 'QStartNoAckMode') {
          this.reply('OK');
          this.noAck = true;
          return;
        }
        return this.reply('');
      case 'H': {
        const tid = parseInt(p.slice(2), 16);
        if (Number.isNaN(tid) || tid > t.harts) return this.reply('E22');
        if (tid > 0) this.current = tid - 1;
        return this.reply('OK');
      }
      case 'T': {
        const tid = parseInt(p.slice(1), 16);
        return this.reply(tid >= 1 && tid <= t.harts ? 'OK' : 'E22');
      }
      case 'g': {
        let s = '';
        for (let n = 0; n < G_REGS; n++) {
          const v = t.readRegister(this.current, registerByNumber(n)!.ref);
          s += v === undefined ? 'xx'.repeat(8) : regToHex(v, 8);
        }
        return this.reply(s);
      }
      case 'G': {
        const body = p.slice(1);
        if (body.length < G_REGS * 16) return this.reply('E22');
        for (let n = 0; n < G_REGS; n++) {
          const v = regFromHex(body.slice(n * 16, n * 16 + 16));
          if (v !== undefined) t.writeRegister(this.current, registerByNumber(n)!.ref, v);
        }
        return this.reply('OK');
      }
      case 'p': {
        const def = registerByNumber(parseInt(p.slice(1), 16));
        if (!def) return this.reply('E45');
        const v = t.readRegister(this.current, def.ref);
        return this.reply(v === undefined ? 'xx'.repeat(def.bits / 8) : regToHex(v, def.bits / 8));
      }
      case 'P': {
        const [n, hex] = p.slice(1).split('=');
        const def = registerByNumber(parseInt(n, 16));
        const v = hex === undefined ? undefined : regFromHex(hex);
        if (!def || v === undefined) return this.reply('E22');
        return this.reply(t.writeRegister(this.current, def.ref, v) ? 'OK' : 'E45');
      }
      case 'm': {
        const m = /^m([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
        if (!m) return this.reply('E22');
        const len = Math.min(parseInt(m[2], 16), PACKET_SIZE / 2);
        const data = t.readMemory(this.current, BigInt(`0x${m[1]}`), len);
        return this.reply(data.length === 0 && len > 0 ? 'E14' : toHex(data));
      }
      case 'M': case 'X': {
        const m = /^[MX]([0-9a-fA-F]+),([0-9a-fA-F]+):/.exec(p);
        if (!m) return this.reply('E22');
        const payload = p.slice(m[0].length);
        const data = p[0] === 'M' ? fromHex(payload) : Uint8Array.from(Buffer.from(payload, 'latin1'));
        if (!data || data.length !== parseInt(m[2], 16)) return this.reply('E22');
        if (data.length === 0) return this.reply('OK');
        return this.reply(t.writeMemory(this.current, BigInt(`0x${m[1]}`), data) ? 'OK' : 'E14');
      }
      case 'c': return this.resume(undefined, p.slice(1));
      case 's': return this.resume(this.current, p.slice(1));
      case 'C': return this.resume(undefined, p.split(';')[1]);
      case 'S': return this.resume(this.current, p.split(';')[1]);
      case 'v': return this.vPacket(p);
      case 'Z': case 'z': {
        const m = /^[Zz]([0-4]),([0-9a-fA-F]+),([0-9a-fA-F]+)/.exec(p);
        if (!m) return this.reply('E22');
        const bp = { kind: BP_KINDS[Number(m[1])], addr: BigInt(`0x${m[2]}`), len: parseInt(m[3], 16) } as Breakpoint;
        const ok = p[0] === 'Z' ? t.addBreakpoint(bp) : t.removeBreakpoint(bp);
        return this.reply(ok ? 'OK' : 'E22');
      }
      case 'D':
        t.clearBreakpoints();
        this.reply('OK');
        t.resume();
        return this.o.close();
      case 'k':
        this.o.close();
        return t.kill();
      default:
        return this.reply('');
    }
  }

  private vPacket(p: string): void {
    if (p === 'vCont?') return this.reply('vCont;c;C;s;S;t');
    if (p.startsWith('vCont;')) {
      // Actions apply left to right; the first that names a thread (or the default) wins.
      // In all-stop mode with one step action, step that hart alone (as QEMU does).
      const actions = p.slice(6).split(';').map((a) => {
        const [act, tid] = a.split(':');
        return { act: act[0], hart: tid === undefined || tid === '-1' ? undefined : parseInt(tid, 16) - 1 };
      });
      const step = actions.find((a) => a.act === 's' || a.act === 'S');
      if (step) return this.resume(step.hart ?? this.current);
      if (actions.some((a) => a.act === 'c' || a.act === 'C')) return this.resume(undefined);
      // Only 't': stop (already stopped in all-stop mode).
      this.o.target.halt();
      return this.reply(stopReply({ kind: 'paused', hart: this.current }));
    }
    if (p === 'vKill' || p.startsWith('vKill;')) {
      this.reply('OK');
      this.o.close();
      return this.o.target.kill();
    }
    return this.reply('');
  }

  private query(p: string): void {
    const t = this.o.target;
    if (p.startsWith('qSupported')) return this.reply(SUPPORTED);
    if (p.startsWith('qXfer:features:read:')) {
      const m = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
      if (!m || m[1] !== 'target.xml') return this.reply('E00');
      const off = parseInt(m[2], 16), len = parseInt(m[3], 16);
      const chunk = TARGET_XML.slice(off, off + len);
      return this.reply((off + len >= TARGET_XML.length ? 'l' : 'm') + chunk);
    }
    if (p === 'qAttached' || p.startsWith('qAttached:')) return this.reply('1');
    if (p === 'qC') return this.reply(`QC${threadId(this.current)}`);
    if (p === 'qfThreadInfo') return this.reply('m' + Array.from({ length: t.harts }, (_, i) => threadId(i)).join(','));
    if (p === 'qsThreadInfo') return this.reply('l');
    if (p.startsWith('qThreadExtraInfo,')) {
      const tid = parseInt(p.slice(17), 16);
      return this.reply(toHex(Buffer.from(`hart ${tid - 1}`)));
    }
    if (p.startsWith('qSymbol')) return this.reply('OK');
    if (p.startsWith('qRcmd,') && this.o.monitor) {
      const line = Buffer.from(p.slice(6), 'hex').toString();
      void this.o.monitor(line).then((out) => {
        if (out) this.reply('O' + toHex(Buffer.from(out.replace(/\r\n/g, '\n'))));
        this.reply('OK');
      });
      return;
    }
    return this.reply('');
  }
}
