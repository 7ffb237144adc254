// The Node host's device backends for a Vm: disk images (storage/), the user-mode NAT
// (net/), shared directories (share/). Everything opened for one machine is closed by its
// VmDevices.close(), whatever way the run ends.

import { DiskError, explainErrno, openDisk } from '../../storage/index.js';
import { isNbdUri, parseNbdUri } from '../../storage/nbd/uri.js';
import { NbdBackend } from '../nbd/backend.js';
import { UserNet } from '../../net/index.js';
import { tappedLink } from '../../net/switch/index.js';
import type { EthernetEndpoint } from '../../devices/ethernet.js';
import { PcapFile } from '../net/pcap-file.js';
import { parseStreamAddress, StreamLink } from '../net/stream-link.js';
import { PortLink, type PortLinkEnd } from '../net/port-link.js';
import { VxlanLink, vxlanEndpoints } from '../net/vxlan-link.js';
import { TapLink } from '../net/tap-link.js';
import { stateRoot } from '../daemon/paths.js';
import { join } from 'node:path';
import { DirectoryShare, ShareError } from '../../share/index.js';
import type { NicSpec, VmSpec } from '../../vmm/spec.js';
import { type AttachedDisk, type VmDevices, VmError } from '../../vmm/vm-services.js';
import type { IoCounters } from './io-counters.js';

/** QEMU's default NIC address for the first card (52:54:00:12:34:56). */
export const DEFAULT_MAC = '52:54:00:12:34:56';

/** What messages call each kind of device. */
export interface DeviceNames {
  disk: string;
  share: string;
  publish: string;
  net: string;
}

export interface DeviceHostOptions {
  /** What a message calls each kind of device: the CLI names its options (--disk). */
  names?: DeviceNames;
  warn?: (message: string) => void;
  /** Counts the traffic of every device opened (the daemon's metrics). */
  counters?: IoCounters;
  /** A daemon VM's wires to its switches, per NIC (the worker's ends). Without them a
   *  switch NIC joins the daemon's switch through its socket. */
  switchLinks?: (PortLinkEnd | null)[];
}

export function parseMac(mac: string): Uint8Array {
  return Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** An openDevices for VmServices. */
export function nodeDevices(o: DeviceHostOptions = {}): (spec: VmSpec) => Promise<VmDevices> {
  const names = o.names ?? { disk: 'disk', share: 'share', publish: 'publish', net: 'network' };
  const warn = o.warn ?? (() => {});
  // One PortLink per wire for the worker's life: a reset opens the devices again, on the
  // same wire.
  const portLinks = (o.switchLinks ?? []).map((end) => (end ? new PortLink(end, 'worker') : null));
  return async (spec) => {
    const closers: (() => void)[] = [];
    const close = () => {
      for (const c of closers.splice(0).reverse()) {
        try {
          c();
        } catch {
          // Closing is best effort: a disk that failed to flush already said so.
        }
      }
    };
    try {
      const disks: AttachedDisk[] = spec.disks.map((d) => {
        const nbd = isNbdUri(d.file);
        // NbdBackend's messages name the export's URI themselves.
        const backend = vmError(nbd ? names.disk : `${names.disk} ${d.file}`, () => nbd
          ? new NbdBackend(parseNbdUri(d.file), { readOnly: d.readOnly ?? false, serial: d.serial })
          : openDisk({ file: d.file, format: d.format, readOnly: d.readOnly ?? false, serial: d.serial, warn: (m) => warn(`${names.disk} ${m}`) }));
        closers.push(() => backend.close());
        return { spec: d, backend: o.counters ? o.counters.disk(backend) : backend, shared: nbd };
      });
      const shares = spec.shares.map((s) => {
        const share = vmError(`${names.share} ${s.dir}`, () => new DirectoryShare({ root: s.dir, tag: s.tag, readOnly: s.readOnly ?? false }));
        closers.push(() => share.close());
        return share;
      });
      const nics = [];
      for (const [i, n] of spec.nics.entries()) {
        let link = portLinks[i] ?? await openNetwork(n, names, warn, closers);
        if (n.capture !== undefined) {
          const file = vmError(`${names.net} capture`, () => new PcapFile(n.capture!, (m) => warn(m)));
          closers.push(() => file.close());
          link = tappedLink(link, (frame) => file.record(frame));
        }
        nics.push({ mac: parseMac(n.mac ?? DEFAULT_MAC), link: o.counters ? o.counters.link(link) : link });
      }
      return { disks, nics, shares, close };
    } catch (e) {
      close();
      throw e;
    }
  };
}

/** The backend of one NIC: the user-mode NAT, a socket to a peer, a switch, a tunnel or a
 *  host tap. */
async function openNetwork(n: NicSpec, names: DeviceNames, warn: (m: string) => void, closers: (() => void)[]): Promise<EthernetEndpoint> {
  if (n.network === 'user') {
    const nat = new UserNet({ publish: (n.publish ?? []).map((p) => ({ ...p })) });
    closers.push(() => nat.close());
    await nat.start().catch((e: Error) => {
      throw new VmError(`${names.publish}: ${e.message}`);
    });
    return nat;
  }
  if (n.network === 'switch') {
    // Outside the daemon: its switch's socket, which puts every peer on VLAN 1.
    if (n.vlan !== undefined && n.vlan !== 1) throw new VmError(`${names.net} switch=${n.switch},vlan=${n.vlan}: VLANs are for VMs of the daemon (rvisor create); a standalone run joins VLAN 1`);
    const path = join(stateRoot(), 'networks', `${n.switch}.sock`);
    const link = await StreamLink.connect({ path }, (m) => warn(`${names.net} switch=${n.switch}: ${m}`)).catch(() => {
      throw new VmError(`${names.net} switch=${n.switch}: no such network on this host's daemon (rvisor serve; rvisor network create ${n.switch}), no socket at ${path}`);
    });
    closers.push(() => link.close());
    return link;
  }
  if (n.network === 'vxlan') {
    const link = await Promise.resolve().then(() => VxlanLink.open({ vni: n.vni!, ...vxlanEndpoints(n.remote!, n.local) }, (m) => warn(`${names.net} ${m}`))).catch((e: Error) => {
      throw new VmError(`${names.net} vxlan: ${e.message}`);
    });
    closers.push(() => link.close());
    return link;
  }
  if (n.network === 'tap') {
    const link = await TapLink.open({ ifname: n.ifname! }, (m) => warn(`${names.net} ${m}`)).catch((e: Error) => {
      throw new VmError(`${names.net} ${e.message}`);
    });
    closers.push(() => link.close());
    return link;
  }
  const text = n.listen ?? n.connect ?? '';
  const address = parseStreamAddress(text);
  if (!address) throw new VmError(`${names.net} socket: '${text}' is not HOST:PORT or unix:PATH`);
  const say = (m: string) => warn(`${names.net} socket: ${m}`);
  const link = await (n.listen !== undefined ? StreamLink.listen(address, say) : StreamLink.connect(address, say)).catch((e: Error) => {
    throw new VmError(`${names.net} socket: ${e.message}`);
  });
  closers.push(() => link.close());
  return link;
}

/** A bad image or directory is the user's to fix: one clear line. */
function vmError<T>(what: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    if (e instanceof DiskError || e instanceof ShareError) throw new VmError(`${what}: ${e.message}`);
    // The paths were checked, but a file can change before a reset reopens it.
    const why = explainErrno(e);
    if (why) throw new VmError(`${what}: ${why}`);
    throw e;
  }
}
