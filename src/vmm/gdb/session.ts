// One GDB connection: acknowledgement mode, thread selection, and the packets GDB uses
// against a bare-metal or kernel target. Transport-free (bytes in, bytes out) so that
// tests drive it directly; server.ts attaches it to a socket.

import { hexNumber, hexValue, threadSel } from './numbers.js';
import { encodePacket, fromHex, PACKET_SIZE, PacketReader, regFromHex, regToHex, toHex, type Frame } from './packet.js';
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
  /** Told when handling a packet threw (a bug: the debugger got E01 instead). */
  onError?: (e: unknown) => void;
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
      // Bad input is answered by the handlers themselves; this catch is for bugs (in
      // the stub or the target), which must cost the debugger one answer, not the VMM
      // (the socket's data callback has nobody above it to catch).
      try {
        this.frame(f);
      } catch (e) {
        this.running = false;
        this.o.onError?.(e);
        this.reply('E01');
      }
    }
  }

  private frame(f: Frame): void {
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

  /** c/s/C/S: `[sig;]addr` is optional; bad numbers get E22 and nothing runs. */
  private resume(step: number | undefined, sig: string | undefined, addr: string): void {
    if (sig !== undefined && hexNumber(sig, 0xff) === undefined) return this.reply('E22');
    const pc = addr === '' ? undefined : hexValue(addr);
    if (addr !== '' && pc === undefined) return this.reply('E22');
    if (pc !== undefined) this.o.target.writeRegister(step ?? this.current, { kind: 'pc' }, pc);
    this.run(step);
  }

  private run(step: number | undefined): void {
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
        // Hg/Hc: -1 (all) and 0 (any) leave the selection as it is.
        const sel = threadSel(p.slice(2), t.harts);
        if (!sel) return this.reply('E22');
        if (sel.kind === 'hart') this.current = sel.hart;
        return this.reply('OK');
      }
      case 'T': return this.reply(threadSel(p.slice(1), t.harts)?.kind === 'hart' ? 'OK' : 'E22');
      case 'g': {
        let s = '';
        for (let n = 0; n < G_REGS; n++) {
          const v = t.readRegister(this.current, registerByNumber(n)!.ref);
          s += v === undefined ? 'xx'.repeat(8) : regToHex(v, 8);
        }
        return this.reply(s);
      }
      case 'G': {
        // All or nothing: a bad slot refuses the packet before any register changes.
        // A slot of x's is a register GDB does not have a value for: left alone.
        const body = p.slice(1);
        if (body.length !== G_REGS * 16) return this.reply('E22');
        const values: (bigint | undefined)[] = [];
        for (let n = 0; n < G_REGS; n++) {
          const slot = body.slice(n * 16, n * 16 + 16);
          const v = regFromHex(slot);
          if (v === undefined && slot !== 'x'.repeat(16)) return this.reply('E22');
          values.push(v);
        }
        values.forEach((v, n) => { if (v !== undefined) t.writeRegister(this.current, registerByNumber(n)!.ref, v); });
        return this.reply('OK');
      }
      case 'p': {
        const n = hexNumber(p.slice(1), 0xffff);
        if (n === undefined) return this.reply('E22');
        const def = registerByNumber(n);
        if (!def) return this.reply('E45');
        const v = t.readRegister(this.current, def.ref);
        return this.reply(v === undefined ? 'xx'.repeat(def.bits / 8) : regToHex(v, def.bits / 8));
      }
      case 'P': {
        const eq = p.indexOf('=');
        const n = eq < 0 ? undefined : hexNumber(p.slice(1, eq), 0xffff);
        const def = n === undefined ? undefined : registerByNumber(n);
        if (n !== undefined && !def) return this.reply('E45');
        // The value is the register's own width in target byte order, nothing else.
        const hex = p.slice(eq + 1);
        const v = def && hex.length === def.bits / 4 ? regFromHex(hex) : undefined;
        if (!def || v === undefined) return this.reply('E22');
        return this.reply(t.writeRegister(this.current, def.ref, v) ? 'OK' : 'E45');
      }
      case 'm': {
        const [addrText, lenText, extra] = p.slice(1).split(',');
        const addr = hexValue(addrText), len = hexNumber(lenText, 0xffffffff);
        if (extra !== undefined || addr === undefined || len === undefined) return this.reply('E22');
        // gdbserver's bound: the reply (two digits a byte) must fit in a packet.
        const n = Math.min(len, PACKET_SIZE / 2);
        const data = t.readMemory(this.current, addr, n);
        return this.reply(data.length === 0 && n > 0 ? 'E14' : toHex(data));
      }
      case 'M': case 'X': {
        const colon = p.indexOf(':');
        const [addrText, lenText, extra] = p.slice(1, colon < 0 ? p.length : colon).split(',');
        const addr = hexValue(addrText), len = hexNumber(lenText, PACKET_SIZE);
        if (colon < 0 || extra !== undefined || addr === undefined || len === undefined) return this.reply('E22');
        const payload = p.slice(colon + 1);
        const data = p[0] === 'M' ? fromHex(payload) : Uint8Array.from(Buffer.from(payload, 'latin1'));
        if (!data || data.length !== len) return this.reply('E22');
        if (len === 0) return this.reply('OK');
        return this.reply(t.writeMemory(this.current, addr, data) ? 'OK' : 'E14');
      }
      case 'c': return this.resume(undefined, undefined, p.slice(1));
      case 's': return this.resume(this.current, undefined, p.slice(1));
      case 'C': case 'S': {
        const [sig, addr = '', extra] = p.slice(1).split(';');
        if (extra !== undefined) return this.reply('E22');
        return this.resume(p[0] === 'S' ? this.current : undefined, sig, addr);
      }
      case 'v': return this.vPacket(p);
      case 'Z': case 'z': {
        // type,addr,kind, then for Z only an optional ;cond list (we advertise none).
        const [fields] = p.slice(1).split(';', 1);
        const [type, addrText, kindText, extra] = fields.split(',');
        const kind = /^[0-4]$/.test(type) ? BP_KINDS[Number(type)] : undefined;
        const addr = hexValue(addrText), len = hexNumber(kindText, 0xffffffff);
        if (!kind || extra !== undefined || addr === undefined || len === undefined) return this.reply('E22');
        const bp = { kind, addr, len } as Breakpoint;
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
      const actions = this.vContActions(p.slice(6));
      if (!actions) return this.reply('E22');
      // In all-stop mode with a step action, step that hart alone (as QEMU does); a
      // step with no thread (or "any") steps the current one.
      const step = actions.find((a) => a.act === 's');
      if (step) return this.run(step.hart ?? this.current);
      if (actions.some((a) => a.act === 'c')) return this.run(undefined);
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

  /** vCont's `action[:thread]` list, or undefined when any action is malformed or names
   *  a thread that does not exist: such a vCont would never get its stop reply. */
  private vContActions(list: string): { act: 'c' | 's' | 't'; hart?: number }[] | undefined {
    const out: { act: 'c' | 's' | 't'; hart?: number }[] = [];
    for (const action of list.split(';')) {
      const [cmd, tid, extra] = action.split(':');
      const letter = cmd[0];
      if (extra !== undefined || !letter || !'cCsSt'.includes(letter)) return undefined;
      // C and S carry a signal (ignored: a bare-metal target has no signals to deliver).
      if (letter === 'C' || letter === 'S' ? hexNumber(cmd.slice(1), 0xff) === undefined : cmd.length !== 1) return undefined;
      const sel = tid === undefined ? { kind: 'all' as const } : threadSel(tid, this.o.target.harts);
      if (!sel) return undefined;
      out.push({ act: letter.toLowerCase() as 'c' | 's' | 't', hart: sel.kind === 'hart' ? sel.hart : undefined });
    }
    return out;
  }

  private query(p: string): void {
    const t = this.o.target;
    if (p.startsWith('qSupported')) return this.reply(SUPPORTED);
    if (p.startsWith('qXfer:features:read:')) {
      const [annex, range, extra] = p.slice(20).split(':');
      const [offText, lenText] = (range ?? '').split(',');
      const off = hexNumber(offText, 0xffffffff), len = hexNumber(lenText, 0xffffffff);
      if (annex !== 'target.xml' || extra !== undefined || off === undefined || len === undefined) return this.reply('E00');
      // No more than fits in a packet, whatever was asked for.
      const end = off + Math.min(len, PACKET_SIZE - 1);
      return this.reply((end >= TARGET_XML.length ? 'l' : 'm') + TARGET_XML.slice(off, end));
    }
    if (p === 'qAttached' || p.startsWith('qAttached:')) return this.reply('1');
    if (p === 'qC') return this.reply(`QC${threadId(this.current)}`);
    if (p === 'qfThreadInfo') return this.reply('m' + Array.from({ length: t.harts }, (_, i) => threadId(i)).join(','));
    if (p === 'qsThreadInfo') return this.reply('l');
    if (p.startsWith('qThreadExtraInfo,')) {
      const sel = threadSel(p.slice(17), t.harts);
      return this.reply(sel?.kind === 'hart' ? toHex(Buffer.from(`hart ${sel.hart}`)) : 'E22');
    }
    if (p.startsWith('qSymbol')) return this.reply('OK');
    if (p.startsWith('qRcmd,') && this.o.monitor) {
      const line = fromHex(p.slice(6));
      if (!line) return this.reply('E22');
      this.o.monitor(Buffer.from(line).toString()).then(
        (out) => {
          if (out) this.reply('O' + toHex(Buffer.from(out.replace(/\r\n/g, '\n'))));
          this.reply('OK');
        },
        // The monitor answers errors as output; a rejection is a bug, reported as one.
        (e: unknown) => {
          this.o.onError?.(e);
          this.reply('E01');
        },
      );
      return;
    }
    return this.reply('');
  }
}
