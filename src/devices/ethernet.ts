// The frame path between network devices and whatever carries their frames: a user-mode
// NAT today, a virtual switch tomorrow. Each side is an EthernetPort; connecting two
// ports means giving each the other as its peer, so a switch can be put in between
// without either side changing.

export interface EthernetPort {
  /** Hands one Ethernet frame (destination MAC first, no FCS) to this port. The caller
   *  keeps no claim on `frame`; the port may keep it. Never throws for a bad frame: a port
   *  drops what it cannot use. */
  deliver(frame: Uint8Array): void;
}

/** A port with a peer on the other side of the wire. */
export interface EthernetEndpoint extends EthernetPort {
  connect(peer: EthernetPort): void;
}
