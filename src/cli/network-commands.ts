// `rvisor network create|ls|inspect|rm`: the host daemon's virtual switches, through its
// REST API, in the habits of `docker network`.

import { parseArgs } from 'node:util';
import type { NetworkView, VxlanUplink } from '../host/daemon/networks.js';
import type { FirewallRule, FirewallSpec } from '../net/switch/index.js';
import { takeVxlanOption } from './device-args.js';
import { ApiClient, socketPathOf } from './api-client.js';
import { UsageError } from './errors.js';

export const NETWORK_USAGE = `rvisor network create NAME          a virtual switch on the daemon; VMs join it with
                                    --net switch=NAME[,vlan=N] (rvisor create), QEMU
                                    and standalone runs through its socket (VLAN 1)
    [--vxlan vni=N,remote=IP[:PORT][,local=[IP][:PORT]][,vlan=N]]...
                                    a VXLAN uplink (UDP 4789) to the same segment on
                                    another host, or to Linux's vxlan device
    [--nat [--nat-vlan N]]          a NAT router on the segment (VLAN 1 unless given):
                                    DHCP gives guests 10.0.2.15, .16, ...; DNS at
                                    10.0.2.3; the host's loopback is 10.0.2.2
    [--rule allow|deny,in|out[,tcp|udp|icmp][,cidr=C][,port=N[-M]]]...
    [--policy in=allow|deny,out=allow|deny]
                                    each VM port's stateful firewall (first match
                                    decides; default in=deny,out=allow once a rule or
                                    policy is given)
rvisor network firewall NAME [--rule ...]... [--policy ...] | --clear
                                    replace the firewall of every VM port, at once
rvisor network ls [--json]          the switches, their ports and addresses learned
rvisor network inspect NAME         one switch as JSON: ports, counters, MAC table
rvisor network rm NAME              remove a switch with no ports attached`;

export async function networkCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { host: { type: 'string' }, json: { type: 'boolean' }, vxlan: { type: 'string', multiple: true }, rule: { type: 'string', multiple: true }, policy: { type: 'string' }, clear: { type: 'boolean' }, nat: { type: 'boolean' }, 'nat-vlan': { type: 'string' } }, allowPositionals: true, strict: true });
  const client = new ApiClient(socketPathOf(values.host));
  const one = () => {
    if (positionals.length !== 1) throw new UsageError(`network ${sub} takes NAME`);
    return encodeURIComponent(positionals[0]);
  };
  switch (sub) {
    case 'create': {
      if (positionals.length !== 1) throw new UsageError('network create takes NAME');
      const vxlan = (values.vxlan ?? []).map(parseUplink);
      const firewall = values.rule || values.policy ? parseFirewall(values.rule ?? [], values.policy) : undefined;
      if (values['nat-vlan'] !== undefined && !values.nat) throw new UsageError('network create: --nat-vlan goes with --nat');
      const nat = values.nat ? { ...(values['nat-vlan'] !== undefined && { vlan: parseVlan(values['nat-vlan']) }) } : undefined;
      const n = (await client.call('POST', '/v1/networks', { name: positionals[0], ...(vxlan.length && { vxlan }), ...(nat && { nat }), ...(firewall && { firewall }) })) as NetworkView;
      process.stdout.write(`${n.name}\n`);
      return 0;
    }
    case 'firewall': {
      const name = one();
      if (values.clear && (values.rule || values.policy)) throw new UsageError('network firewall: --clear, or rules and a policy');
      if (!values.clear && !values.rule && !values.policy) throw new UsageError('network firewall NAME takes --rule/--policy, or --clear');
      const n = (values.clear
        ? await client.call('DELETE', `/v1/networks/${name}/firewall`)
        : await client.call('PUT', `/v1/networks/${name}/firewall`, parseFirewall(values.rule ?? [], values.policy))) as NetworkView;
      process.stdout.write(`${n.name}\n`);
      return 0;
    }
    case 'ls': {
      if (positionals.length) throw new UsageError(`network ls: unexpected argument '${positionals[0]}'`);
      const nets = (await client.call('GET', '/v1/networks')) as NetworkView[];
      if (values.json) process.stdout.write(`${JSON.stringify(nets, null, 2)}\n`);
      else {
        process.stdout.write(`${'NAME'.padEnd(16)} ${'PORTS'.padStart(5)} ${'MACS'.padStart(5)}  SOCKET\n`);
        for (const n of nets) process.stdout.write(`${n.name.padEnd(16)} ${String(n.ports.length).padStart(5)} ${String(n.macTable.length).padStart(5)}  ${n.socket}\n`);
      }
      return 0;
    }
    case 'inspect':
      process.stdout.write(`${JSON.stringify(await client.call('GET', `/v1/networks/${one()}`), null, 2)}\n`);
      return 0;
    case 'rm':
      await client.call('DELETE', `/v1/networks/${one()}`);
      process.stdout.write(`${positionals[0]}\n`);
      return 0;
    default:
      throw new UsageError(`network ${sub ?? ''}: use create, firewall, ls, inspect or rm`);
  }
}

/** --vxlan vni=N,remote=IP[:PORT][,local=[IP][:PORT]][,vlan=N] */
export function parseUplink(text: string): VxlanUplink {
  const up: Partial<VxlanUplink> = {};
  for (const o of text.split(',')) {
    const [key, value = ''] = o.split(/=(.*)/s);
    if (takeVxlanOption(up, key, value)) continue;
    if (key === 'vlan' && /^\d{1,4}$/.test(value) && +value >= 1 && +value <= 4094) up.vlan = +value;
    else throw new UsageError(`--vxlan ${text}: unknown or bad option '${o}' (vni=N,remote=IP[:PORT][,local=[IP][:PORT]][,vlan=N])`);
  }
  if (up.vni === undefined || up.remote === undefined) throw new UsageError(`--vxlan ${text}: needs vni=N and remote=IP[:PORT]`);
  return up as VxlanUplink;
}

/** --rule ACTION,DIRECTION[,PROTO][,cidr=C][,port=P] (repeated) and --policy in=A,out=A */
export function parseFirewall(rules: string[], policy?: string): FirewallSpec {
  const spec: FirewallSpec = {
    rules: rules.map((text) => {
      const [action, direction, ...opts] = text.split(',');
      if ((action !== 'allow' && action !== 'deny') || (direction !== 'in' && direction !== 'out')) throw new UsageError(`--rule ${text}: begins allow|deny,in|out`);
      const rule: FirewallRule = { action, direction };
      for (const o of opts) {
        if (o === 'tcp' || o === 'udp' || o === 'icmp' || o === 'any') rule.proto = o;
        else if (o.startsWith('cidr=') && o.length > 5) rule.cidr = o.slice(5);
        else if (/^port=\d{1,5}(-\d{1,5})?$/.test(o)) rule.port = o.slice(5);
        else throw new UsageError(`--rule ${text}: unknown or bad option '${o}'`);
      }
      return rule;
    }),
  };
  if (policy !== undefined) {
    spec.policy = {};
    for (const o of policy.split(',')) {
      const m = /^(in|out)=(allow|deny)$/.exec(o);
      if (!m) throw new UsageError(`--policy ${policy}: use in=allow|deny,out=allow|deny`);
      spec.policy[m[1] as 'in' | 'out'] = m[2] as 'allow' | 'deny';
    }
  }
  return spec;
}

/** --nat-vlan N: an 802.1Q VLAN id a router can serve. */
function parseVlan(text: string): number {
  if (/^\d{1,4}$/.test(text) && +text >= 1 && +text <= 4094) return +text;
  throw new UsageError(`--nat-vlan ${text}: a VLAN is 1..4094`);
}
