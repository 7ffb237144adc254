// virtio-net (virtio 1.x §5.1), one queue pair, no offloads: frames cross the wire whole
// and checksummed, each preceded in the rings by the 12-byte virtio_net_hdr_v1. Frames
// from the peer wait in a bounded FIFO until the guest posts receive buffers; beyond it
// they are dropped, as a real NIC drops on ring overflow (the peer's TCP retransmits).

import type { EthernetPort, EthernetEndpoint } from '../ethernet.js';
import { StateReader } from '../snapshot.js';
import { readConfigBytes, VIRTIO_ID_NET, type VirtioDevice, type VirtioTransport } from './device.js';
import type { VirtQueue } from './queue.js';

export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;
const NET_S_LINK_UP = 1;

export const NET_RX = 0;
export const NET_TX = 1;
/** sizeof(struct virtio_net_hdr_v1): flags, gso_type, hdr_len, gso_size, csum_start,
 *  csum_offset, num_buffers. */
export const NET_HDR = 12;
export const NET_RX_FIFO = 256;
const MIN_FRAME = 14; // an Ethernet header
/** A 64 KiB IP packet plus Ethernet and VLAN headers: nothing legitimate is larger. */
export const MAX_FRAME = 65550;
const QUEUE_SIZE = 256;

export class VirtioNet implements VirtioDevice, EthernetEndpoint {
  readonly deviceId = VIRTIO_ID_NET;
  readonly queueCount = 2;
  readonly queueMaxSize = QUEUE_SIZE;
  readonly features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
  private readonly config = new Uint8Array(8);
  private transport: VirtioTransport | undefined;
  private peer: EthernetPort | undefined;
  /** Frames from the peer the guest has no buffer for yet, oldest first. */
  rxFifo: Uint8Array[] = [];
  /** Frames dropped: FIFO full, malformed from the guest, or too large for its buffer. */
  rxDropped = 0;
  txDropped = 0;

  constructor(mac: Uint8Array) {
    if (mac.length !== 6) throw new RangeError('a MAC address is 6 bytes');
    this.config.set(mac, 0);
    this.config[6] = NET_S_LINK_UP; // status: the link is always up
  }

  /** The MAC identifies the card (a mismatch means another machine); frames waiting for
   *  receive buffers are guest-visible state. The link is always up, so it is not saved. */
  save(): { mac: Uint8Array; rxFifo: Uint8Array[]; rxDropped: number; txDropped: number } {
    return { mac: this.config.slice(0, 6), rxFifo: this.rxFifo.map((f) => f.slice()), rxDropped: this.rxDropped, txDropped: this.txDropped };
  }

  restore(state: unknown): void {
    const r: StateReader = StateReader.of(state, 'virtio-net');
    const mac = r.bytes('mac', 6);
    if (mac.some((b, i) => b !== this.config[i])) r.fail('mac', 'the snapshot\'s card has another MAC address');
    const frames = r.list('rxFifo', { max: NET_RX_FIFO }).map((f, i) => {
      if (!(f instanceof Uint8Array) || f.length < MIN_FRAME || f.length > MAX_FRAME) r.fail(`rxFifo[${i}]`, 'not an Ethernet frame');
      return f.slice();
    });
    const rxDropped = r.int('rxDropped', 0, Number.MAX_SAFE_INTEGER), txDropped = r.int('txDropped', 0, Number.MAX_SAFE_INTEGER);
    this.rxFifo = frames;
    this.rxDropped = rxDropped;
    this.txDropped = txDropped;
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  /** Tells the network where this card is now (after a migration): a RARP request from
   *  its MAC to everyone, as QEMU's announce sends, so switches learn its new port. */
  announce(): void {
    this.peer?.deliver(rarpAnnouncement(this.config.subarray(0, 6)));
  }

  /** A frame from the peer for the guest. */
  deliver(frame: Uint8Array): void {
    if (frame.length < MIN_FRAME || frame.length > MAX_FRAME || this.rxFifo.length >= NET_RX_FIFO) {
      this.rxDropped++;
      return;
    }
    this.rxFifo.push(frame);
    this.transport?.run(NET_RX, (q) => this.receive(q));
  }

  readConfig(offset: number, size: number): number {
    return readConfigBytes(this.config, offset, size);
  }

  writeConfig(): void {
    // The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR.
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  reset(): void {
    // What was queued for the old driver instance means nothing to the next one.
    this.rxFifo = [];
  }

  process(index: number, queue: VirtQueue): void {
    if (index === NET_RX) this.receive(queue);
    else if (index === NET_TX) this.transmit(queue);
  }

  /** Moves FIFO frames into posted receive buffers, one buffer per frame. */
  private receive(queue: VirtQueue): void {
    while (this.rxFifo.length > 0) {
      const chain = queue.pop();
      if (!chain) return;
      const frame = this.rxFifo.shift() as Uint8Array;
      if (chain.writableLength < NET_HDR + frame.length) {
        // Without MRG_RXBUF a frame must fit one buffer. Drop the frame, keep the buffer.
        queue.unpop();
        this.rxDropped++;
        continue;
      }
      const hdr = new Uint8Array(NET_HDR);
      hdr[10] = 1; // num_buffers: always 1 without VIRTIO_NET_F_MRG_RXBUF
      chain.write(0, hdr);
      chain.write(NET_HDR, frame);
      queue.push(chain.head, NET_HDR + frame.length);
    }
  }

  private transmit(queue: VirtQueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const len = chain.readableLength - NET_HDR;
      let frame: Uint8Array | undefined;
      if (len >= MIN_FRAME && len <= MAX_FRAME) {
        frame = new Uint8Array(len);
        chain.read(NET_HDR, frame);
      } else {
        this.txDropped++;
      }
      queue.push(chain.head, 0);
      // The peer may answer at once (an ARP reply), re-entering deliver(): the used entry
      // is already out, so the rings are consistent when it does.
      if (frame) this.peer?.deliver(frame);
    }
  }
}

/** A RARP "request reverse" (RFC 903, opcode 3) from `mac` about itself, broadcast and
 *  padded to Ethernet's 60-byte minimum: what QEMU's self-announce sends. */
export function rarpAnnouncement(mac: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set(mac, 6);
  f.set([0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03], 12);
  f.set(mac, 22);
  f.set(mac, 32);
  return f;
}
