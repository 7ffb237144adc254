// Goldfish RTC (google,goldfish-rtc): a 64-bit nanosecond clock since the Unix epoch plus
// one alarm. Linux reads TIME_LOW then TIME_HIGH and programs ALARM_HIGH before ALARM_LOW,
// so the low-word access is the one that latches or commits the pair.

import type { IrqLine, MmioDevice } from './mmio.js';
import { StateReader } from './snapshot.js';

export const RTC_WIDTHS = 4;

/** Host wall clock: nanoseconds since the Unix epoch. */
export type WallClockNs = () => bigint;

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const MASK32 = 0xffffffffn;

/** The guest's clock is kept as an offset from the host's wall clock: a restored guest's
 *  RTC therefore shows real time (plus whatever the guest set), as a machine resuming
 *  from hibernation does. Times in nanoseconds, as decimal strings. */
export interface RtcState {
  offset: string;
  latchedTimeHigh: number;
  pendingTimeHigh: number;
  alarm: string;
  alarmHigh: number;
  alarmArmed: boolean;
  irqEnabled: boolean;
  irqPending: boolean;
}

export class GoldfishRtc implements MmioDevice {
  /** Guest time minus host time, changed when the guest sets the clock. */
  private offset = 0n;
  private latchedTimeHigh = 0;
  private pendingTimeHigh = 0;
  private alarm = 0n;
  private alarmHigh = 0;
  private alarmArmed = false;
  private irqEnabled = false;
  private irqPending = false;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly wallClock: WallClockNs,
  ) {}

  /** Fires the alarm once its time has come; call it as time passes. */
  update(): void {
    if (this.alarmArmed && this.now() >= this.alarm) {
      this.alarmArmed = false;
      this.irqPending = true;
    }
    const level = this.irqPending && this.irqEnabled;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  /** Milliseconds of wall time until the armed alarm fires (Infinity: none armed), so
   *  the board's idle wait can end in time to fire it. */
  msToAlarm(): number {
    if (!this.alarmArmed) return Infinity;
    return Math.max(0, Number(this.alarm - this.now()) / 1e6);
  }

  save(): RtcState {
    return {
      offset: String(this.offset), latchedTimeHigh: this.latchedTimeHigh, pendingTimeHigh: this.pendingTimeHigh,
      alarm: String(this.alarm), alarmHigh: this.alarmHigh, alarmArmed: this.alarmArmed,
      irqEnabled: this.irqEnabled, irqPending: this.irqPending,
    };
  }

  /** Validates, applies, then drives the line (an alarm that came due meanwhile fires). */
  restore(state: unknown): void {
    const r = StateReader.of(state, 'rtc');
    const s = {
      offset: r.big('offset', 65, true), latchedTimeHigh: r.int('latchedTimeHigh', 0, 0xffff_ffff),
      pendingTimeHigh: r.int('pendingTimeHigh', 0, 0xffff_ffff), alarm: r.big('alarm'), alarmHigh: r.int('alarmHigh', 0, 0xffff_ffff),
      alarmArmed: r.bool('alarmArmed'), irqEnabled: r.bool('irqEnabled'), irqPending: r.bool('irqPending'),
    };
    Object.assign(this, s);
    this.irqLevel = this.irqPending && this.irqEnabled;
    this.irq.set(this.irqLevel);
    this.update();
  }

  read(offset: number, _size: number): number {
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.latchedTimeHigh = Number((t >> 32n) & MASK32);
        return Number(t & MASK32);
      }
      case TIME_HIGH:
        return this.latchedTimeHigh;
      case ALARM_LOW:
        return Number(this.alarm & MASK32);
      case ALARM_HIGH:
        return Number((this.alarm >> 32n) & MASK32);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        this.update();
        return this.alarmArmed ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    switch (offset) {
      case TIME_HIGH:
        this.pendingTimeHigh = value >>> 0;
        return;
      case TIME_LOW: {
        const t = (BigInt(this.pendingTimeHigh) << 32n) | BigInt(value >>> 0);
        this.offset = t - this.wallClock();
        break;
      }
      case ALARM_HIGH:
        this.alarmHigh = value >>> 0;
        return;
      case ALARM_LOW:
        this.alarm = (BigInt(this.alarmHigh) << 32n) | BigInt(value >>> 0);
        this.alarmArmed = true;
        break;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        break;
      case CLEAR_ALARM:
        this.alarmArmed = false;
        break;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        break;
      default:
        return;
    }
    // An alarm set in the past fires at once, and enable/clear change the line now.
    this.update();
  }

  private now(): bigint {
    return this.wallClock() + this.offset;
  }
}
