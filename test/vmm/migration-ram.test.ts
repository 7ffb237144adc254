// Guest RAM through the migration stream: pre-copy rounds over the dirty log while the
// "guest" keeps writing, then a stop-and-copy; the receiver's RAM, restored by the
// RAM it wrote into a second memory equals the source's byte for byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestMemory, PAGE_SIZE } from '../../src/cpu/memory.js';
import { RamReceiver, RamSender } from '../../src/vmm/migration/ram-transfer.js';
import { encodeFrame, encodePreamble, FrameDecoder, FrameType, MigrationError } from '../../src/vmm/migration/stream.js';

const BASE = 0x80000000;

test('rounds over the dirty log, then stop-and-copy, leave the destination with the source\'s RAM', () => {
  const src = new GuestMemory(BASE, 4 << 20);
  const dst = new GuestMemory(BASE, 4 << 20);
  let seed = 99;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  const scribble = (n: number) => {
    for (let i = 0; i < n; i++) src.write(BASE + Math.floor(rand() * src.size / 8) * 8, Uint8Array.of(rand() * 256, 1, 2, 3, 4, 5, 6, 7));
  };
  scribble(300);
  const sender = new RamSender(src);
  const receiver = new RamReceiver(dst);
  const decoder = new FrameDecoder();
  decoder.push(encodePreamble());
  const send = (pages: number[]) => {
    for (const payload of sender.frames(pages)) {
      for (const f of decoder.push(new Uint8Array(Buffer.concat(encodeFrame(FrameType.Ram, payload))))) receiver.apply(f.payload);
    }
  };
  const rounds: number[] = [];
  for (let round = 0; round < 4; round++) {
    const pages = sender.nextRound();
    rounds.push(pages.length);
    // The guest writes while the round is being sent: half before, half after.
    scribble(20);
    send(pages.slice(0, pages.length >> 1));
    scribble(20);
    send(pages.slice(pages.length >> 1));
  }
  assert.equal(rounds[0], src.pages, 'the first round sends every page');
  assert.ok(rounds[1] > 0 && rounds[1] <= 40, `later rounds send what was dirtied: ${rounds}`);
  // Stop-and-copy: the guest is paused, the last dirty pages go.
  send(sender.nextRound());
  assert.deepEqual(dst.read(BASE, dst.size), src.read(BASE, src.size));
  // Zero pages cost almost nothing: 4 MiB of mostly zeroes went in far less.
  assert.ok(sender.bytesSent < 2.2 << 20, `${sender.bytesSent} bytes sent`);
});

test('a page that became zero again is zero at the destination; pages beyond the guest are refused', () => {
  const src = new GuestMemory(BASE, 64 * PAGE_SIZE);
  src.write(BASE + 5 * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(9));
  const dst = new GuestMemory(BASE, 64 * PAGE_SIZE);
  // What the destination machine's loader had put there before the migration began.
  dst.write(BASE + 9 * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(3));
  const sender = new RamSender(src);
  const receiver = new RamReceiver(dst);
  for (const p of sender.frames(sender.nextRound())) receiver.apply(p);
  assert.equal(dst.read(BASE + 5 * PAGE_SIZE, 1)[0], 9);
  src.write(BASE + 5 * PAGE_SIZE, new Uint8Array(PAGE_SIZE));
  for (const p of sender.frames(sender.nextRound())) receiver.apply(p);
  assert.ok(dst.read(BASE, dst.size).every((b) => b === 0), 'every page is zero, as at the source');
  const small = new RamReceiver(new GuestMemory(BASE, 4 * PAGE_SIZE));
  assert.throws(() => { for (const p of sender.frames([10])) small.apply(p); }, (e: unknown) => e instanceof MigrationError && /beyond the guest's 4 pages/.test(e.message));
});
