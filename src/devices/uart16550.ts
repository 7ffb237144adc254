// NS16550A UART, register stride 1, as Linux's 8250 driver and OpenSBI drive it.
// Transmission is instantaneous: the transmitter is always empty, so THRE and TEMT read 1
// and the "THR empty" interrupt re-arms as soon as a byte is written.

import type { ByteSink, IrqLine, MmioDevice } from './mmio.js';
import { StateReader } from './snapshot.js';

/** Accesses of any width reach the 8-bit register at their offset. */
export const UART_WIDTHS = 1 | 2 | 4;

/** Host input waiting for the guest. Larger than the chip's 16-byte FIFO so a paste is not
 *  lost while the guest is slow; the guest still sees one FIFO with the usual trigger levels. */
export const UART_RX_CAPACITY = 4096;

// IER bits
const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IER_RLSI = 0x04;
const IER_MSI = 0x08;

// IIR interrupt identifications, highest priority first
const IIR_NONE = 0x01;
const IIR_RLS = 0x06;
const IIR_RDA = 0x04;
const IIR_TIMEOUT = 0x0c;
const IIR_THRE = 0x02;
const IIR_MSR = 0x00;
const IIR_FIFO_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

/** Without a modem, the console reports carrier, data set ready and clear to send. */
const MSR_IDLE_LINES = 0xb0;

const TRIGGER_LEVELS = [1, 4, 8, 14];

/** Everything the guest can observe; the interrupt line's level follows from it. */
export interface UartState {
  /** Received bytes the guest has not read, oldest first. */
  rx: Uint8Array;
  ier: number; lcr: number; mcr: number; scr: number; dll: number; dlm: number;
  fifoEnabled: boolean; rxTrigger: number; overrun: boolean; thrEmptyPending: boolean; msrDelta: number;
  /** Position in `rx` of a received break (a NUL with LSR.BI), or -1; absent in older
   *  snapshots. */
  breakAt?: number;
}

export class Uart16550 implements MmioDevice {
  private readonly rx = new Uint8Array(UART_RX_CAPACITY);
  private rxHead = 0;
  private rxCount = 0;
  /** How many bytes precede a received break in the FIFO; -1: none. One at a time. */
  private breakAt = -1;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  private fifoEnabled = false;
  private rxTrigger = 1;
  private overrun = false;
  /** Set when THR becomes empty (or THRI is switched on while it is); cleared by writing
   *  THR or by reading IIR while it reports THRE. */
  private thrEmptyPending = false;
  /** MSR delta bits (DCTS, DDSR, TERI, DDCD), cleared by reading MSR. */
  private msrDelta = 0;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly out: ByteSink,
  ) {}

  /** Host input. Returns how many bytes were taken; the rest did not fit and may be
   *  offered again later. In loopback the receiver is disconnected, so nothing is taken. */
  receive(bytes: Uint8Array): number {
    if (this.mcr & MCR_LOOP) return 0;
    const n = Math.min(bytes.length, UART_RX_CAPACITY - this.rxCount);
    for (let i = 0; i < n; i++) this.pushRx(bytes[i]);
    if (n > 0) this.updateIrq();
    return n;
  }

  /** A break condition on the line, received as a NUL character with LSR.BI set: what a
   *  serial console turns into a magic SysRq (Linux: a break, then the key). */
  receiveBreak(): boolean {
    if (this.mcr & MCR_LOOP || this.breakAt >= 0 || this.rxCount >= UART_RX_CAPACITY) return false;
    this.breakAt = this.rxCount;
    this.pushRx(0);
    this.updateIrq();
    return true;
  }

  /** Bytes the guest has not read yet. */
  get pendingInput(): number {
    return this.rxCount;
  }

  read(offset: number, _size: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        return dlab ? this.dll : this.readRbr();
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2:
        return this.readIir();
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return this.readLsr();
      case 6:
        return this.readMsr();
      case 7:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) this.dll = v;
        else this.writeThr(v);
        break;
      case 1:
        if (dlab) this.dlm = v;
        else this.writeIer(v);
        break;
      case 2:
        this.writeFcr(v);
        break;
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.writeMcr(v);
        break;
      case 7:
        this.scr = v;
        break;
      // LSR and MSR are read-only; offsets past 7 are not decoded.
    }
  }

  /** The programmed baud-rate divisor (DLM:DLL); nothing is paced by it. */
  get divisor(): number {
    return (this.dlm << 8) | this.dll;
  }

  save(): UartState {
    const rx = new Uint8Array(this.rxCount);
    for (let i = 0; i < this.rxCount; i++) rx[i] = this.rx[(this.rxHead + i) % UART_RX_CAPACITY];
    return {
      rx, ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, dll: this.dll, dlm: this.dlm,
      fifoEnabled: this.fifoEnabled, rxTrigger: this.rxTrigger, overrun: this.overrun,
      thrEmptyPending: this.thrEmptyPending, msrDelta: this.msrDelta, breakAt: this.breakAt,
    };
  }

  /** Validates, then applies, then drives the interrupt line to the restored level (the
   *  line's previous level belongs to another machine state). */
  restore(state: unknown): void {
    const r = StateReader.of(state, 'uart');
    const rx = r.bytes('rx', { max: UART_RX_CAPACITY });
    const s = {
      ier: r.int('ier', 0, 0x0f), lcr: r.int('lcr', 0, 0xff), mcr: r.int('mcr', 0, 0x1f), scr: r.int('scr', 0, 0xff),
      dll: r.int('dll', 0, 0xff), dlm: r.int('dlm', 0, 0xff), fifoEnabled: r.bool('fifoEnabled'),
      rxTrigger: r.int('rxTrigger', 1, 14), overrun: r.bool('overrun'), thrEmptyPending: r.bool('thrEmptyPending'),
      msrDelta: r.int('msrDelta', 0, 0x0f),
      breakAt: (state as { breakAt?: unknown }).breakAt === undefined ? -1 : r.int('breakAt', -1, rx.length - 1),
    };
    if (!TRIGGER_LEVELS.includes(s.rxTrigger)) r.fail('rxTrigger', `${s.rxTrigger} is not a 16550 trigger level`);
    Object.assign(this, s);
    this.rx.fill(0);
    this.rx.set(rx);
    this.rxHead = 0;
    this.rxCount = rx.length;
    this.irqLevel = this.interruptId() !== IIR_NONE;
    this.irq.set(this.irqLevel);
  }

  private pushRx(b: number): void {
    this.rx[(this.rxHead + this.rxCount) % UART_RX_CAPACITY] = b;
    this.rxCount++;
  }

  private readRbr(): number {
    if (this.rxCount === 0) return 0;
    const b = this.rx[this.rxHead];
    this.rxHead = (this.rxHead + 1) % UART_RX_CAPACITY;
    this.rxCount--;
    if (this.breakAt >= 0) this.breakAt--;
    this.updateIrq();
    return b;
  }

  private writeThr(b: number): void {
    if (this.mcr & MCR_LOOP) {
      if (this.rxCount < UART_RX_CAPACITY) this.pushRx(b);
      else this.overrun = true;
    } else {
      this.out(Uint8Array.of(b));
    }
    // The byte left at once, so THR is empty again and THRE fires anew.
    this.thrEmptyPending = true;
    this.updateIrq();
  }

  private writeIer(v: number): void {
    const was = this.ier;
    this.ier = v & 0x0f;
    // The 8250 driver kicks transmission by switching THRI on, and probes that a 0 -> 1
    // switch re-raises THRE even after an IIR read cleared it (else it assumes UART_BUG_THRE).
    if (this.ier & IER_THRI & ~was) this.thrEmptyPending = true;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const enable = (v & FCR_ENABLE) !== 0;
    // Toggling FIFO mode resets the FIFOs on a real 16550.
    if (enable !== this.fifoEnabled || v & FCR_CLEAR_RX) {
      this.rxHead = 0;
      this.rxCount = 0;
      this.breakAt = -1;
    }
    this.fifoEnabled = enable;
    // Clearing the transmit FIFO has nothing to do: it is always empty.
    this.rxTrigger = TRIGGER_LEVELS[v >> 6];
    this.updateIrq();
  }

  private writeMcr(v: number): void {
    const before = this.modemLines();
    this.mcr = v & 0x1f;
    const after = this.modemLines();
    const changed = (before ^ after) >> 4;
    // DCTS, DDSR and DDCD flag any change; TERI only the falling edge of RI.
    this.msrDelta |= changed & 0b1011;
    if (changed & 0b0100 && before & 0x40) this.msrDelta |= 0b0100;
    this.updateIrq();
  }

  /** MSR's upper nibble: in loopback the MCR outputs feed back (RTS->CTS, DTR->DSR,
   *  OUT1->RI, OUT2->DCD). */
  private modemLines(): number {
    if (!(this.mcr & MCR_LOOP)) return MSR_IDLE_LINES;
    const m = this.mcr;
    return ((m & 0x02) << 3) | ((m & 0x01) << 5) | ((m & 0x04) << 4) | ((m & 0x08) << 4);
  }

  private readLsr(): number {
    let lsr = LSR_THRE | LSR_TEMT;
    if (this.rxCount > 0) lsr |= LSR_DR;
    if (this.overrun) lsr |= LSR_OE;
    if (this.breakAt === 0) lsr |= LSR_BI;
    this.overrun = false;
    this.updateIrq();
    return lsr;
  }

  private readMsr(): number {
    const msr = this.modemLines() | this.msrDelta;
    this.msrDelta = 0;
    this.updateIrq();
    return msr;
  }

  private readIir(): number {
    const id = this.interruptId();
    // Reading IIR is what acknowledges a THRE interrupt.
    if (id === IIR_THRE) {
      this.thrEmptyPending = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
  }

  /** The highest-priority enabled interrupt condition, as IIR's low nibble. */
  private interruptId(): number {
    const ier = this.ier;
    if (ier & IER_RLSI && (this.overrun || this.breakAt === 0)) return IIR_RLS;
    if (ier & IER_RDI && this.rxCount > 0) {
      // Below the trigger level a real FIFO raises a character timeout after four idle
      // character times; input arrives in bursts here, so it is raised right away.
      return !this.fifoEnabled || this.rxCount >= this.rxTrigger ? IIR_RDA : IIR_TIMEOUT;
    }
    if (ier & IER_THRI && this.thrEmptyPending) return IIR_THRE;
    if (ier & IER_MSI && this.msrDelta) return IIR_MSR;
    return IIR_NONE;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
