// The JSON Schemas of what the daemon API takes and returns: the OpenAPI document's
// components.schemas. The server compiles its request checks from the document, so these
// are the one definition of a valid request. Each mirrors a type of ../daemon/model.ts;
// the `satisfies` lists below make the compiler notice when the model gains a value.

import { VM_SPEC_SCHEMA } from '../../vmm/spec.js';
import type { HostEvent, VmActionRequest, VmStatus } from '../daemon/model.js';

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` }) as const;

/** Every value of a union type, checked both ways: none missing, none extra. */
const every = <T extends string>() => <const A extends readonly T[]>(values: [T] extends [A[number]] ? A : never) => values;

export const VM_STATUSES = every<VmStatus>()(['stopped', 'starting', 'running', 'paused', 'debug', 'crashed', 'incoming']);
const EVENTS = every<HostEvent['event']>()(['STOP', 'RESUME', 'RESET', 'SHUTDOWN', 'POWERDOWN', 'CREATED', 'DELETED', 'CRASHED', 'EXPIRED', 'MIGRATION', 'MIGRATED']);
const NAMED_ACTIONS = ['snapshot', 'restore'] as const;
const ACTIONS = every<VmActionRequest['type']>()(['start', 'stop', 'pause', 'resume', 'reset', 'powerdown', ...NAMED_ACTIONS]);

// Taken from the VmSpec schema rather than written again: a VM's name and labels are
// spec fields, and the API's other names (snapshots, clones) follow the same rule. The
// spec's default ({}) is dropped: in a PATCH it would read as "absent clears them".
const labels = Object.fromEntries(Object.entries(VM_SPEC_SCHEMA.properties.labels).filter(([k]) => k !== 'default'));
const name = VM_SPEC_SCHEMA.properties.name;

const owner = { type: 'string', minLength: 1, maxLength: 256, description: 'Who the VM belongs to (free text, e.g. a user name).' };
const time = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };
const ttl = { type: 'integer', minimum: 1, maximum: 2 ** 31, description: 'Seconds after creation the daemon stops the VM.' };

const object = (properties: Record<string, unknown>, required: string[] = []) =>
  ({ type: 'object', additionalProperties: false, required, properties });

export const SCHEMAS = {
  VmSpec: VM_SPEC_SCHEMA,
  Name: name,
  Labels: labels,
  VmStatus: { enum: VM_STATUSES },
  VmView: object({
    id: { type: 'string', description: 'Stable and never reused (a UUID).' },
    name: ref('Name'),
    spec: ref('VmSpec'),
    owner: { type: 'string' },
    labels: ref('Labels'),
    created: time,
    lastActive: { ...time, description: 'Last guest activity seen (console output, disk or network I/O).' },
    ttlSeconds: ttl,
    removeOnExpiry: { type: 'boolean' },
    template: { type: 'boolean', description: 'Read-only, never started; clones are made from it.' },
    clonedFrom: { type: 'string', description: 'The template this VM was cloned from.' },
    status: ref('VmStatus'),
    crashReason: { type: 'string' },
    cpuSeconds: { type: 'number', minimum: 0, description: "Host CPU seconds the VM's worker has used (this run)." },
    instructions: { ...count, description: 'Guest instructions retired (this run).' },
    cpu: object({
      used: { type: 'number', minimum: 0, description: 'Share of one host core the VM ran lately.' },
      wanted: { type: 'number', minimum: 0, description: 'Used plus what its CPU limit withheld.' },
      allowance: { type: 'number', minimum: 0, description: "The scheduler's allowance (shares, cap)." },
      stolenSeconds: { type: 'number', minimum: 0, description: 'Time withheld while the guest was ready to run (this run).' },
    }, ['used', 'wanted', 'allowance', 'stolenSeconds']),
  }, ['id', 'name', 'spec', 'owner', 'labels', 'created', 'status', 'cpuSeconds', 'instructions']),
  CreateRequest: object({
    spec: ref('VmSpec'),
    owner,
    labels: ref('Labels'),
    ttlSeconds: ttl,
    removeOnExpiry: { type: 'boolean', description: 'With ttlSeconds: remove (not only stop) the VM when it expires.' },
  }, ['spec']),
  PatchRequest: object({
    owner,
    labels: { ...ref('Labels'), description: 'Replaces all labels.' },
    ttlSeconds: { type: ['integer', 'null'], minimum: 1, maximum: 2 ** 31, description: 'null clears the TTL.' },
  }),
  // One object with a rule rather than a oneOf of two: a bad action then gets one clear
  // problem ("body: missing field 'name'") instead of one per branch of the oneOf.
  VmActionRequest: {
    ...object({ type: { enum: ACTIONS }, name: { ...ref('Name'), description: 'The snapshot: only with snapshot and restore.' } }, ['type']),
    if: { properties: { type: { enum: NAMED_ACTIONS } } },
    then: { required: ['name'] },
    else: { properties: { name: false } },
  },
  CloneRequest: object({ name: ref('Name'), owner, labels: ref('Labels') }, ['name']),
  MigrateRequest: object({
    target: { type: 'string', pattern: '^(unix:/.+|https?://.+)$', maxLength: 4096, description: "The other daemon's API: unix:PATH, or http://HOST:PORT." },
    token: { type: 'string', minLength: 1, maxLength: 4096, description: "The other daemon's bearer token (over TCP)." },
    downtimeLimitMs: { type: 'integer', minimum: 1, maximum: 2000000, description: 'The longest pause of the guest allowed (QEMU downtime-limit; default 300).' },
    dryRun: { type: 'boolean', description: 'Only predict: measure the dirty rate and the link, and say whether it would converge and with what downtime.' },
  }, ['target']),
  MigrationPrediction: object({
    vm: { type: 'string' },
    target: { type: 'string' },
    converges: { type: 'boolean' },
    reason: { type: 'string' },
    expectedDowntimeMs: { type: 'number', minimum: 0 },
    expectedTotalMs: { type: 'number', minimum: 0 },
    rounds: count,
    throttle: { type: 'number', minimum: 0, maximum: 1, description: 'The vCPU throttle auto-converge would reach.' },
    dirtyRate: { type: 'number', minimum: 0, description: 'Bytes per second the guest dirties.' },
    bandwidth: { type: 'number', minimum: 0, description: "Bytes per second of the guest's pages over the link." },
    rttMs: { type: 'number', minimum: 0 },
    restoreMs: { type: 'number', minimum: 0, description: "The target's restore of this machine's state." },
  }, ['vm', 'target', 'converges', 'expectedDowntimeMs', 'expectedTotalMs', 'rounds', 'throttle', 'dirtyRate', 'bandwidth', 'rttMs', 'restoreMs']),
  MigrationReport: object({
    vm: { type: 'string' },
    target: { type: 'string' },
    totalMs: { type: 'number', minimum: 0 },
    downtimeMs: { type: 'number', minimum: 0, description: 'How long the guest was paused.' },
    setupMs: { type: 'number', minimum: 0 },
    rounds: count,
    transferredBytes: count,
  }, ['vm', 'target', 'totalMs', 'downtimeMs', 'setupMs', 'rounds', 'transferredBytes']),
  IncomingRequest: object({
    spec: ref('VmSpec'),
    owner,
    labels: ref('Labels'),
    transport: { enum: ['unix', 'tcp'], description: 'How the source reached this daemon: how the guest will come.' },
    copyDisks: {
      type: 'array', maxItems: 8, description: 'Disks the source copies along: this daemon makes an empty image of each size for them.',
      items: object({ index: { type: 'integer', minimum: 0, maximum: 7 }, size: { type: 'integer', minimum: 512, maximum: 2 ** 50 } }, ['index', 'size']),
    },
  }, ['spec', 'transport']),
  IncomingView: object({
    vm: ref('VmView'),
    uri: { type: 'string', description: 'Where the VM listens for the source: tcp:HOST:PORT or unix:PATH.' },
  }, ['vm', 'uri']),
  HostInfo: object({
    version: { type: 'string' },
    cpus: { type: 'integer', minimum: 1 },
    memoryBytes: count,
    vms: object(Object.fromEntries(VM_STATUSES.map((s) => [s, count])), [...VM_STATUSES]),
  }, ['version', 'cpus', 'memoryBytes', 'vms']),
  ImageView: object({ name: { type: 'string' }, kernelVersion: { type: 'string' }, size: count, created: time },
    ['name', 'kernelVersion', 'size', 'created']),
  HostEvent: object({
    vm: object({ id: { type: 'string' }, name: { type: 'string' } }, ['id', 'name']),
    event: { enum: EVENTS },
    data: { type: 'object' },
    timestamp: object({ seconds: count, microseconds: { type: 'integer', minimum: 0, maximum: 999999 } }, ['seconds', 'microseconds']),
  }, ['vm', 'event', 'timestamp']),
  NetworkName: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,30}$' },
  VxlanUplink: object({
    vni: { type: 'integer', minimum: 0, maximum: 0xffffff, description: 'The VXLAN Network Identifier (RFC 7348).' },
    remote: { type: 'string', minLength: 1, maxLength: 64, description: 'The remote endpoint, IP[:PORT] (port 4789 by default).' },
    local: { type: 'string', minLength: 1, maxLength: 64, description: 'Where to bind, [IP][:PORT]; default every address, port 4789.' },
    vlan: { type: 'integer', minimum: 1, maximum: 4094, description: 'The VLAN the tunnel carries (default 1).' },
  }, ['vni', 'remote']),
  FirewallRule: object({
    action: { enum: ['allow', 'deny'] },
    direction: { enum: ['in', 'out'], description: 'out: what the guest sends; in: what it receives.' },
    proto: { enum: ['tcp', 'udp', 'icmp', 'any'] },
    cidr: { type: 'string', maxLength: 43, description: "The remote end's IPv4 or IPv6 addresses (destination going out, source coming in); a rule without one covers both families." },
    port: { type: 'string', pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$', description: 'The destination port, N or N-M (tcp, udp).' },
  }, ['action', 'direction']),
  Firewall: object({
    policy: object({ in: { enum: ['allow', 'deny'] }, out: { enum: ['allow', 'deny'] } }, []),
    rules: { type: 'array', maxItems: 256, items: ref('FirewallRule'), description: 'First match decides; replies of an allowed flow pass.' },
  }, ['rules']),
  NatRouter: {
    ...object({ vlan: { type: 'integer', minimum: 1, maximum: 4094, description: 'The VLAN the router serves (default 1).' } }),
    description: 'A NAT router port: 10.0.2.0/24 with DHCP (10.0.2.15, .16, ...), DNS at 10.0.2.3, the host as 10.0.2.2.',
  },
  NetworkSpec: object({
    name: ref('NetworkName'),
    vxlan: { type: 'array', maxItems: 16, items: ref('VxlanUplink'), description: 'VXLAN tunnels to the same segment elsewhere.' },
    nat: ref('NatRouter'),
    firewall: ref('Firewall'),
  }, ['name']),
  NetworkView: object({
    name: ref('NetworkName'),
    vxlan: { type: 'array', items: ref('VxlanUplink') },
    nat: object({
      vlan: { type: 'integer', minimum: 1, maximum: 4094 },
      hosts: { type: 'array', items: object({ ip: { type: 'string' }, mac: { type: 'string' }, leased: { type: 'boolean' } }, ['ip', 'mac', 'leased']), description: 'Guests the router knows: DHCP leases and addresses seen in use.' },
      stats: { type: 'object', additionalProperties: count },
    }, ['hosts', 'stats']),
    firewall: ref('Firewall'),
    socket: { type: 'string', description: "Where QEMU's stream protocol joins the switch (a Unix socket; VLAN 1)." },
    ports: {
      type: 'array',
      items: object({
        name: { type: 'string', description: "A VM's NIC (the VM's name; a second NIC adds #N), or the network's own: socket:N, vxlan:N, nat:gw." },
        vlan: { oneOf: [{ type: 'integer', minimum: 1, maximum: 4094 }, { const: 'trunk' }] },
        rxFrames: count, rxBytes: count, txFrames: count, txBytes: count,
        drops: { type: 'object', additionalProperties: count, description: 'Frames from the port not forwarded, by why (runt, oversize, spoofed-source, spoofed-ip, dhcp-server, firewall, vlan, queue-full, ...).' },
        firewall: object({
          rules: { type: 'array', items: count, description: 'Packets each rule decided, in order.' },
          policy: { type: 'object', description: 'Packets the default policy allowed and denied, per direction.' },
          established: count,
          filtered: count,
        }, ['rules', 'policy', 'established', 'filtered']),
      }, ['name', 'vlan', 'rxFrames', 'rxBytes', 'txFrames', 'txBytes', 'drops']),
    },
    macTable: {
      type: 'array',
      items: object({ vid: { type: 'integer' }, mac: { type: 'string' }, port: { type: 'string' }, ageMs: count }, ['vid', 'mac', 'port', 'ageMs']),
    },
    stats: object({ macMoves: count, macEvictions: count, floods: count }, ['macMoves', 'macEvictions', 'floods']),
  }, ['name', 'socket', 'ports', 'macTable', 'stats']),
  Error: object({
    error: object({
      code: { type: 'string', description: 'Stable, for programs: e.g. no-such-vm, invalid-request, bad-state.' },
      message: { type: 'string', description: 'For people.' },
      problems: { type: 'array', items: { type: 'string' }, description: 'One line per bad field, naming it.' },
    }, ['code', 'message']),
  }, ['error']),
} as const;
