// A link with a tap: every frame through `inner`, both ways, is also shown to `see`
// (packet capture on a NIC that is not on a switch).

import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';

/** `inner` as the NIC sees it: frames from the NIC are 'out' of the guest, frames to it 'in'. */
export function tappedLink(inner: EthernetEndpoint, see: (frame: Uint8Array, direction: 'in' | 'out') => void): EthernetEndpoint {
  return {
    deliver(frame) {
      see(frame, 'out');
      inner.deliver(frame);
    },
    connect(nic: EthernetPort) {
      inner.connect({
        deliver(frame) {
          see(frame, 'in');
          nic.deliver(frame);
        },
      });
    },
  };
}
