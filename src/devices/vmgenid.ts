// Virtual Machine Generation ID ("microsoft,vmgenid" in the device tree, Linux's
// drivers/virt/vmgenid.c): a 16-byte identifier the guest reads, and an interrupt that
// says it changed. A guest started from a snapshot is a fork of the one that was saved:
// on the change, Linux mixes the new ID into its entropy pool and reseeds its random
// number generator at once (add_vmfork_randomness), so two guests started from one
// snapshot never share random numbers. Firecracker gives its snapshots the same device.
//
// The board's PLIC lines are level-triggered and the device has no acknowledge register:
// the line stays up from a change until the guest reads the ID (which its interrupt
// handler does first thing), so the change can never be missed nor fire twice.

import type { IrqLine, MmioDevice } from './mmio.js';
import { StateReader } from './snapshot.js';

export const VMGENID_BYTES = 16;
export const VMGENID_WIDTHS = 1 | 2 | 4;

export interface VmGenIdState {
  id: Uint8Array;
  raised: boolean;
}

export class VmGenId implements MmioDevice {
  private id = new Uint8Array(VMGENID_BYTES);
  private raised = false;

  constructor(private readonly irq: IrqLine, first: Uint8Array) {
    this.id.set(checked(first));
  }

  /** A new generation: the guest is a new fork (fresh random bytes from the host). */
  change(next: Uint8Array): void {
    this.id = Uint8Array.from(checked(next));
    this.raised = true;
    this.irq.set(true);
  }

  read(offset: number, size: number): number {
    if (this.raised) {
      this.raised = false;
      this.irq.set(false);
    }
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < VMGENID_BYTES ? this.id[offset + i] : 0);
    return v;
  }

  write(): void {
    // Read-only: the generation is the host's to change.
  }

  save(): VmGenIdState {
    return { id: Uint8Array.from(this.id), raised: this.raised };
  }

  restore(state: unknown): void {
    const r = StateReader.of(state, 'vmgenid');
    const id = r.bytes('id', { max: VMGENID_BYTES });
    if (id.length !== VMGENID_BYTES) r.fail('id', `a generation ID has ${VMGENID_BYTES} bytes, not ${id.length}`);
    const raised = r.bool('raised');
    this.id = Uint8Array.from(id);
    this.raised = raised;
    this.irq.set(raised);
  }
}

function checked(id: Uint8Array): Uint8Array {
  if (id.length !== VMGENID_BYTES) throw new RangeError(`a generation ID has ${VMGENID_BYTES} bytes, not ${id.length}`);
  return id;
}
