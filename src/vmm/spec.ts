// A VmSpec names everything a VM is, as plain JSON: what the CLI's flags become, what the
// host daemon stores and its REST API takes, what templates and migration copy. The JSON
// Schema below is the one definition: the validator here and the daemon's OpenAPI
// document both use it, so the two cannot disagree.
//
// Validation is a real JSON Schema validator (Ajv: maintained, fast, runs in browsers
// too), and every problem is reported with the path of the field it is about.

import { Ajv, type ErrorObject } from 'ajv';

/** A Linux interface name: at most 15 bytes (IFNAMSIZ less its NUL), not . or .., and
 *  kept to characters no path, shell or socat address (which `,` `:` and `!!` split)
 *  reads specially: the name goes into socat's command line. */
export const IFNAME_PATTERN = '^(?!\\.\\.?$)[A-Za-z0-9_.-]{1,15}$';

export interface DiskSpec {
  file: string;
  /** Probed from the file when absent (with the restrictions docs/security.md gives). */
  format?: 'raw' | 'qcow2';
  readOnly?: boolean;
  /** VIRTIO_BLK_T_GET_ID answer (at most 20 bytes); default: the file's name. */
  serial?: string;
}

export interface PublishSpec {
  proto: 'tcp' | 'udp';
  /** Where the host listens; loopback unless named, so nothing is exposed by accident. */
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

export interface NicSpec {
  /** 'user': the user-mode NAT (QEMU's -netdev user). 'socket': a wire to one peer, an
   *  rvisor or a QEMU guest, in QEMU's stream protocol (-netdev socket / stream).
   *  'switch': a port on one of the host daemon's virtual switches (`switch` names it).
   *  'vxlan': a VXLAN tunnel (RFC 7348) to one remote endpoint, an rvisor or Linux's own
   *  vxlan device. 'tap': a host TAP device (`ifname` names it), made and held by socat. */
  network: 'user' | 'socket' | 'switch' | 'vxlan' | 'tap';
  /** switch only: the daemon's switch, and the VLAN of this port (default 1). */
  switch?: string;
  vlan?: number;
  /** 52:54:00:xx:xx:xx style; default QEMU's first NIC address. */
  mac?: string;
  /** user only. */
  publish?: PublishSpec[];
  /** socket only, one of the two: HOST:PORT or unix:PATH to listen on or connect to. */
  listen?: string;
  connect?: string;
  /** vxlan only: the VNI (0..16777215), the remote endpoint IP[:PORT] (port 4789 by
   *  default) and where to bind, [IP][:PORT] (default every address, port 4789). */
  vni?: number;
  remote?: string;
  local?: string;
  /** tap only: the host interface's name (IFNAME_PATTERN). */
  ifname?: string;
  /** A pcap file that gets every frame to and from the NIC. */
  capture?: string;
}

export interface ShareSpec {
  dir: string;
  tag: string;
  readOnly?: boolean;
}

export interface BootSpec {
  /** A pulled image by name (`rvisor image ls`); default 'debian' unless a kernel is named. */
  image?: string;
  kernel?: string;
  /** Replaces the image's initramfs. */
  initrd?: string;
  append?: string;
  /** A command the image's /init runs instead of a shell; its status ends the VM. */
  command?: string[];
}

export interface VmSpec {
  name?: string;
  /** Guest RAM in bytes, a multiple of 4 KiB. */
  memory: number;
  harts: number;
  boot: BootSpec;
  /** M-mode firmware to boot (e.g. OpenSBI's fw_dynamic.bin); absent: rvisor's own SBI. */
  firmware?: string;
  disks: DiskSpec[];
  nics: NicSpec[];
  shares: ShareSpec[];
  exec: 'jit' | 'interp';
  /** 'multi': each hart on its own host thread (QEMU's -accel tcg,thread=multi);
   *  'single': all harts on one thread, in turn. Default: see vcpuThreads(). */
  threads?: 'single' | 'multi';
  labels: Record<string, string>;
  /** Host CPU: `cap` is the most of one host core the VM may use, in percent; `shares`
   *  its weight when the host is overcommitted (Xen's credit scheduler: default 256). */
  cpu?: { cap?: number; shares?: number; dedicated?: boolean };
  /** The guest's hostname (the image's /init sets it); default 'rvisor'. */
  hostname?: string;
  /** The guest's /etc/machine-id: 32 lowercase hex digits. Clones get a new one. */
  machineId?: string;
}

const path = { type: 'string', minLength: 1, maxLength: 4096 } as const;

/** JSON Schema (draft 2020-12 subset that OpenAPI 3.1 shares) of a VmSpec. */
export const VM_SPEC_SCHEMA = {
  $id: 'VmSpec',
  type: 'object',
  additionalProperties: false,
  required: ['memory'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' },
    memory: { type: 'integer', minimum: 4096, maximum: 2 ** 40, multipleOf: 4096 },
    harts: { type: 'integer', minimum: 1, maximum: 8, default: 1 },
    boot: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        image: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' },
        kernel: path,
        initrd: path,
        append: { type: 'string', maxLength: 4096 },
        command: { type: 'array', items: { type: 'string', maxLength: 4096 }, maxItems: 256 },
      },
    },
    firmware: path,
    disks: {
      type: 'array', maxItems: 8, default: [],
      items: {
        type: 'object', additionalProperties: false, required: ['file'],
        properties: {
          file: path,
          format: { enum: ['raw', 'qcow2'] },
          readOnly: { type: 'boolean' },
          serial: { type: 'string', maxLength: 20 },
        },
      },
    },
    nics: {
      type: 'array', maxItems: 1, default: [{ network: 'user' }],
      items: {
        type: 'object', additionalProperties: false, required: ['network'],
        properties: {
          network: { enum: ['user', 'socket', 'switch', 'vxlan', 'tap'] },
          ifname: { type: 'string', pattern: IFNAME_PATTERN },
          vni: { type: 'integer', minimum: 0, maximum: 0xffffff },
          remote: { type: 'string', minLength: 1, maxLength: 64 },
          local: { type: 'string', minLength: 1, maxLength: 64 },
          switch: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,30}$' },
          vlan: { type: 'integer', minimum: 1, maximum: 4094 },
          listen: { type: 'string', minLength: 1, maxLength: 4096 },
          connect: { type: 'string', minLength: 1, maxLength: 4096 },
          capture: path,
          mac: { type: 'string', pattern: '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' },
          publish: {
            type: 'array', maxItems: 64,
            items: {
              type: 'object', additionalProperties: false, required: ['proto', 'hostPort', 'guestPort'],
              properties: {
                proto: { enum: ['tcp', 'udp'] },
                hostAddress: { type: 'string', minLength: 1, maxLength: 253 },
                hostPort: { type: 'integer', minimum: 1, maximum: 65535 },
                guestPort: { type: 'integer', minimum: 1, maximum: 65535 },
              },
            },
          },
        },
      },
    },
    shares: {
      type: 'array', maxItems: 8, default: [],
      items: {
        type: 'object', additionalProperties: false, required: ['dir', 'tag'],
        properties: {
          dir: path,
          tag: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' },
          readOnly: { type: 'boolean' },
        },
      },
    },
    exec: { enum: ['jit', 'interp'], default: 'jit' },
    threads: { enum: ['single', 'multi'] },
    cpu: {
      type: 'object', additionalProperties: false,
      properties: {
        cap: { type: 'integer', minimum: 1, maximum: 100 },
        shares: { type: 'integer', minimum: 1, maximum: 65535 },
        /** Partition mode: a host core (per hart) and the VM's memory reserved for it alone. */
        dedicated: { type: 'boolean' },
      },
    },
    hostname: { type: 'string', pattern: '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$' },
    machineId: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    labels: {
      type: 'object', default: {}, maxProperties: 64,
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$' },
      additionalProperties: { type: 'string', maxLength: 256 },
    },
  },
} as const;

/** Whether the VM's harts run on threads of their own: as asked, else single (the
 *  default while hart threads lack snapshots, the debugger and CPU caps). */
export function vcpuThreads(spec: Pick<VmSpec, 'threads' | 'harts'>): 'single' | 'multi' {
  return spec.threads ?? 'single';
}

/** The most of one host core the VM may use, as a fraction (1 without a cap). */
export function cpuCap(spec: Pick<VmSpec, 'cpu'>): number {
  return (spec.cpu?.cap ?? 100) / 100;
}

/** A VmSpec that does not hold; `problems` has one line per bad field. */
export class SpecError extends Error {
  override name = 'SpecError';

  constructor(readonly problems: string[]) {
    super(`bad VM spec: ${problems.join('; ')}`);
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const validate = ajv.compile(VM_SPEC_SCHEMA);

/** One line naming the field an Ajv error is about: `memory: must be multiple of 4096`.
 *  The daemon API words its own request checks the same way, under a root ('body.spec.memory'). */
export function describeSchemaError(e: ErrorObject, root?: string): string {
  const field = e.instancePath.slice(1).replace(/\//g, '.');
  const at = root === undefined ? field || 'spec' : field ? `${root}.${field}` : root;
  switch (e.keyword) {
    case 'additionalProperties': return `${at}: unknown field '${String(e.params.additionalProperty)}'`;
    case 'required': return `${at}: missing field '${String(e.params.missingProperty)}'`;
    case 'false schema': return `${at}: not allowed here`;
    case 'enum': return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default: return `${at}: ${e.message}`;
  }
}

/**
 * Checks `input` against the schema and returns a VmSpec with every default filled in
 * (a copy: the input is not changed), or throws a SpecError naming each bad field.
 */
export function parseVmSpec(input: unknown): VmSpec {
  const copy: unknown = input === undefined ? undefined : JSON.parse(JSON.stringify(input));
  if (!validate(copy)) throw new SpecError((validate.errors ?? []).map((e) => describeSchemaError(e)));
  const spec = copy as VmSpec;
  // What JSON Schema cannot say: rules between fields.
  const problems: string[] = [];
  const tags = spec.shares.map((s) => s.tag);
  tags.forEach((t, i) => { if (tags.indexOf(t) !== i) problems.push(`shares.${i}.tag: '${t}' is used twice`); });
  const ports = spec.nics.flatMap((n) => n.publish ?? []).map((p) => `${p.proto}/${p.hostAddress ?? '127.0.0.1'}:${p.hostPort}`);
  ports.forEach((p, i) => { if (ports.indexOf(p) !== i) problems.push(`nics: host port ${p} is published twice`); });
  spec.nics.forEach((n, i) => {
    if (n.network === 'socket' && (n.listen === undefined) === (n.connect === undefined)) problems.push(`nics.${i}: a socket network needs listen or connect, one of them`);
    if (n.network !== 'socket' && (n.listen !== undefined || n.connect !== undefined)) problems.push(`nics.${i}: listen and connect are for a socket network`);
    if (n.network !== 'user' && n.publish?.length) problems.push(`nics.${i}: publish needs the user network`);
    if ((n.network === 'switch') !== (n.switch !== undefined)) problems.push(`nics.${i}: a switch network names its switch, and only it does`);
    if (n.network !== 'switch' && n.vlan !== undefined) problems.push(`nics.${i}: a VLAN is for a switch network`);
    if (n.network === 'vxlan' && (n.vni === undefined || n.remote === undefined)) problems.push(`nics.${i}: a vxlan network needs vni and remote`);
    if (n.network !== 'vxlan' && (n.vni !== undefined || n.remote !== undefined || n.local !== undefined)) problems.push(`nics.${i}: vni, remote and local are for a vxlan network`);
    if ((n.network === 'tap') !== (n.ifname !== undefined)) problems.push(`nics.${i}: a tap network names its interface (ifname), and only it does`);
  });
  if (spec.boot.kernel === undefined) spec.boot.image ??= 'debian';
  else if (spec.boot.image !== undefined) problems.push('boot: name an image or a kernel, not both');
  if (problems.length) throw new SpecError(problems);
  return spec;
}
