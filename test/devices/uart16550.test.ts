// The UART driven as Linux's 8250 driver and OpenSBI's uart8250 driver drive it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Uart16550, UART_RX_CAPACITY, UART_WIDTHS } from '../../src/devices/uart16550.js';
import { FakeLine } from './fakes.js';

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function setup() {
  const line = new FakeLine();
  const out: number[] = [];
  const uart = new Uart16550(line, (b) => out.push(...b));
  const r = (off: number) => uart.read(off, 1);
  const w = (off: number, v: number) => uart.write(off, 1, v);
  return { uart, line, out, r, w };
}

/** What 8250 set_termios/startup do: 8N1 at divisor 2, FIFO on and cleared. */
function linuxInit(w: (off: number, v: number) => void, fcr = 0x01) {
  w(LCR, 0x80);
  w(DLL, 0x02);
  w(DLM, 0x00);
  w(LCR, 0x03);
  w(FCR, 0x01);
  w(FCR, 0x07);
  w(FCR, fcr);
  w(MCR, 0x0b); // DTR | RTS | OUT2
}

test('widths: byte registers, wider accesses allowed', () => {
  assert.equal(UART_WIDTHS, 1 | 2 | 4);
});

test('DLAB switches offsets 0 and 1 to the divisor latch', () => {
  const { uart, r, w } = setup();
  w(LCR, 0x83);
  w(DLL, 0x34);
  w(DLM, 0x12);
  assert.equal(r(DLL), 0x34);
  assert.equal(r(DLM), 0x12);
  assert.equal(uart.divisor, 0x1234);
  w(LCR, 0x03);
  assert.equal(r(LCR), 0x03);
  assert.equal(r(IER), 0, 'IER untouched by divisor writes');
  w(IER, 0x05);
  assert.equal(r(IER), 0x05);
  w(LCR, 0x83);
  assert.equal(r(DLM), 0x12, 'divisor untouched by IER writes');
});

test('received bytes raise the RX interrupt until drained', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x01);
  assert.equal(line.level, false);
  assert.equal(r(IIR), 0xc1, 'no interrupt, FIFOs enabled');
  assert.equal(r(LSR), 0x60, 'THRE | TEMT, no data');

  assert.equal(uart.receive(new TextEncoder().encode('hi')), 2);
  assert.equal(line.level, true);
  assert.equal(r(IIR), 0xc4, 'received data available');
  assert.equal(r(LSR) & 1, 1);
  assert.equal(r(RBR), 0x68);
  assert.equal(line.level, true);
  assert.equal(r(RBR), 0x69);
  assert.equal(line.level, false);
  assert.equal(r(LSR), 0x60);
  assert.equal(r(IIR), 0xc1);
  assert.equal(r(RBR), 0, 'empty FIFO reads 0');
});

test('RX interrupt waits for IER.RDI', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  uart.receive(Uint8Array.of(1));
  assert.equal(line.level, false);
  assert.equal(r(LSR) & 1, 1, 'polled drivers still see DR');
  w(IER, 0x01);
  assert.equal(line.level, true);
});

test('below the trigger level the FIFO reports a character timeout', () => {
  const { uart, r, w } = setup();
  linuxInit(w, 0x81); // trigger at 8 bytes, as the 8250 driver programs a 16550A
  w(IER, 0x01);
  uart.receive(new Uint8Array(3));
  assert.equal(r(IIR), 0xcc);
  uart.receive(new Uint8Array(5));
  assert.equal(r(IIR), 0xc4);
});

test('without the FIFO, IIR has no FIFO bits and any byte is RX data', () => {
  const { uart, r, w } = setup();
  w(IER, 0x01);
  assert.equal(r(IIR), 0x01);
  uart.receive(Uint8Array.of(0x41));
  assert.equal(r(IIR), 0x04);
});

test('FCR clears the receive FIFO', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x01);
  uart.receive(new Uint8Array(5));
  assert.equal(line.level, true);
  w(FCR, 0x03);
  assert.equal(r(LSR) & 1, 0);
  assert.equal(line.level, false);
  assert.equal(uart.pendingInput, 0);
});

test('THR bytes go to the sink; LSR always shows the transmitter empty', () => {
  const { out, r, w } = setup();
  linuxInit(w);
  for (const c of new TextEncoder().encode('ok\n')) {
    assert.equal(r(LSR) & 0x20, 0x20, 'OpenSBI polls THRE before each byte');
    w(THR, c);
  }
  assert.deepEqual(out, [0x6f, 0x6b, 0x0a]);
});

test('THRE interrupt: raised when THRI is switched on, acknowledged by reading IIR', () => {
  const { line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x02);
  assert.equal(line.level, true);
  assert.equal(r(IIR), 0xc2);
  assert.equal(line.level, false, 'the IIR read acknowledged it');
  assert.equal(r(IIR), 0xc1);

  // 8250 startup's UART_BUG_THRE probe: off and on again must re-raise it.
  w(IER, 0x00);
  w(IER, 0x02);
  assert.equal(r(IIR), 0xc2);

  // Rewriting IER with THRI already on is not a rising edge.
  w(IER, 0x03);
  assert.equal(r(IIR), 0xc1);
  assert.equal(line.level, false);
});

test('THRE interrupt re-arms after every THR write while THRI is on', () => {
  const { line, out, r, w } = setup();
  linuxInit(w);
  w(IER, 0x02);
  assert.equal(r(IIR), 0xc2);
  // The interrupt handler refills the FIFO...
  w(THR, 0x61);
  w(THR, 0x62);
  assert.equal(line.level, true);
  assert.equal(r(IIR), 0xc2);
  // ...and with nothing left to send, __stop_tx switches THRI off.
  w(THR, 0x63);
  assert.equal(line.level, true);
  w(IER, 0x00);
  assert.equal(line.level, false);
  assert.deepEqual(out, [0x61, 0x62, 0x63]);
});

test('RX data outranks THRE', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x03);
  uart.receive(Uint8Array.of(0x7a));
  assert.equal(r(IIR), 0xc4);
  assert.equal(r(IIR), 0xc4, 'reading IIR while it reports RX does not ack THRE');
  assert.equal(r(RBR), 0x7a);
  assert.equal(r(IIR), 0xc2);
  assert.equal(r(IIR), 0xc1);
  assert.equal(line.level, false);
});

test('loopback: MCR feeds MSR, THR feeds RBR, host input is cut off', () => {
  const { uart, out, r, w } = setup();
  linuxInit(w);
  w(MCR, 0x1a); // LOOP | OUT2 | RTS, as 8250 autoconfig probes
  assert.equal(r(MSR) & 0xf0, 0x90, 'DCD | CTS');
  w(MCR, 0x1f);
  assert.equal(r(MSR) & 0xf0, 0xf0);
  w(THR, 0x55);
  assert.deepEqual(out, []);
  assert.equal(r(LSR) & 1, 1);
  assert.equal(r(RBR), 0x55);
  assert.equal(uart.receive(Uint8Array.of(1)), 0);
  w(MCR, 0x0b);
  assert.equal(r(MSR) & 0xf0, 0xb0, 'outside loopback: DCD, DSR, CTS');
  w(THR, 0x56);
  assert.deepEqual(out, [0x56]);
});

test('modem status changes set MSR deltas and the MSI interrupt', () => {
  const { line, r, w } = setup();
  w(MCR, 0x10);
  r(MSR); // clear the deltas from entering loopback
  w(IER, 0x08);
  assert.equal(line.level, false);
  w(MCR, 0x12); // RTS -> CTS
  assert.equal(line.level, true);
  assert.equal(r(IIR), 0x00);
  assert.equal(r(MSR), 0x11, 'CTS and DCTS');
  assert.equal(line.level, false);
  assert.equal(r(MSR), 0x10, 'deltas clear on read');
  w(MCR, 0x14); // RI up: no TERI yet; CTS down: DCTS
  assert.equal(r(MSR), 0x41);
  w(MCR, 0x10); // RI down: trailing edge
  assert.equal(r(MSR), 0x04);
});

test('overrun in loopback sets LSR.OE and the line-status interrupt', () => {
  const { line, r, w } = setup();
  linuxInit(w);
  w(MCR, 0x10);
  w(IER, 0x04);
  for (let i = 0; i <= UART_RX_CAPACITY; i++) w(THR, i & 0xff);
  assert.equal(line.level, true);
  assert.equal(r(IIR), 0xc6);
  assert.equal(r(LSR), 0x63, 'OE | DR | THRE | TEMT');
  assert.equal(r(LSR), 0x61, 'OE clears on read');
  assert.equal(line.level, false);
});

test('host input beyond the buffer is refused, not lost', () => {
  const { uart, r } = setup();
  const big = new Uint8Array(UART_RX_CAPACITY + 10).fill(0x2e);
  assert.equal(uart.receive(big), UART_RX_CAPACITY);
  assert.equal(r(LSR) & 2, 0, 'no overrun: the host keeps the rest');
  r(RBR);
  assert.equal(uart.receive(big.subarray(UART_RX_CAPACITY)), 1);
});

test('scratch register, offsets past 7, and wide accesses', () => {
  const { uart, r, w } = setup();
  w(SCR, 0xa5);
  assert.equal(r(SCR), 0xa5);
  w(8, 0xff);
  assert.equal(r(8), 0);
  uart.write(LCR, 4, 0x1203);
  assert.equal(uart.read(LCR, 4), 0x03, 'only the register byte is stored');
});

test('the IRQ line is told only about changes', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x01);
  uart.receive(Uint8Array.of(1, 2, 3));
  r(LSR);
  r(IIR);
  r(RBR);
  r(RBR);
  r(RBR);
  assert.deepEqual(line.history, [true, false]);
});

test('a break arrives as a NUL with LSR.BI and a line-status interrupt, in order with the data', () => {
  const { uart, line, r, w } = setup();
  linuxInit(w);
  w(IER, 0x05); // RDI | RLSI
  uart.receive(Uint8Array.of(0x41));
  assert.equal(uart.receiveBreak(), true);
  assert.equal(uart.receiveBreak(), false, 'one break at a time');
  uart.receive(Uint8Array.of(0x6f));
  // 'A' first: no BI while it is at the top of the FIFO.
  assert.equal(r(LSR) & 0x10, 0);
  assert.equal(r(RBR), 0x41);
  assert.equal(r(IIR) & 0x0f, 0x06, 'line status interrupt for the break');
  assert.equal(line.level, true);
  assert.equal(r(LSR) & 0x11, 0x11);
  assert.equal(r(RBR), 0);
  assert.equal(r(LSR) & 0x10, 0, 'BI goes with its character');
  assert.equal(r(RBR), 0x6f);
  assert.equal(line.level, false);
});
