// rvisor's user-mode networking: see user-net.ts.

export { UserNet, type UserNetOptions, type UserNetStats } from './user-net.js';
export type { BoundRule, PublishRule } from './forward.js';
export { hostNameservers, parseNameserver, type Nameserver } from './dns.js';
export * as addresses from './addresses.js';
