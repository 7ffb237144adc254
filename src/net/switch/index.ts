// rvisor's virtual switch and the pure pieces around it: see switch.ts.

export { EthernetSwitch, SwitchPort, type DropReason, type PortCounters, type PortOptions, type SwitchOptions, type SwitchStats, type VlanMode } from './switch.js';
export { macToString, parseMac, tag, untag, MAX_TAGGED, MAX_UNTAGGED } from './frame.js';
export { MacTable } from './mac-table.js';
export { pcapFileHeader, pcapRecord } from './pcap.js';
export { encodeStreamFrame, MAX_STREAM_FRAME, StreamFrameDecoder, StreamFramingError } from './stream-framing.js';
export { tappedLink } from './tap.js';
export { decodeVxlan, encodeVxlan, MAX_VNI, VXLAN_HEADER, VXLAN_PORT, type VxlanError } from './vxlan.js';
export { Firewall, FirewallError, type Action, type Direction, type FirewallCounters, type FirewallRule, type FirewallSpec } from './firewall.js';
