// The daemon's CPU scheduler: when its VMs want more CPU than the host has, each gets a
// share in proportion to its weight (Xen's credit scheduler, VMware's shares), never more
// than its cap, and what a VM does not want goes to the others (max-min fairness by
// weight). The allowances become throttles in the VMs' run loops (VirtMachine's CPU
// limit); the time a throttle withholds from a busy guest is its steal time.

export interface CpuDemand {
  /** Share of one core the VM wanted lately (its busy time plus time withheld from it). */
  wanted: number;
  /** Most of one core it may have (its cap; 1 without one). */
  cap: number;
  /** Weight (default 256). */
  shares: number;
}

/** A VM wanting this much more than it got is treated as wanting all it may have: busy
 *  guests grow into what they are given. */
const HEADROOM = 0.1;

/** Each VM's allowance, as a share of one core, for `capacity` cores. */
export function fairShares(capacity: number, vms: readonly CpuDemand[]): number[] {
  const demand = vms.map((v) => Math.min(v.cap, v.wanted + HEADROOM));
  if (demand.reduce((a, b) => a + b, 0) <= capacity) return vms.map((v) => v.cap);
  const out: number[] = vms.map(() => 0);
  let left = capacity;
  let open = vms.map((_, i) => i);
  // Water-filling: whoever wants less than its weighted share gets what it wants; the
  // rest is shared again among the others, until everyone left wants more.
  for (;;) {
    const weight = open.reduce((a, i) => a + vms[i].shares, 0);
    const satisfied = open.filter((i) => demand[i] <= (left * vms[i].shares) / weight);
    if (satisfied.length === 0) {
      for (const i of open) out[i] = Math.min(1, (left * vms[i].shares) / weight);
      return out;
    }
    for (const i of satisfied) {
      // Satisfied VMs are not throttled below what they want, nor above their cap.
      out[i] = vms[i].cap;
      left -= demand[i];
    }
    open = open.filter((i) => !satisfied.includes(i));
    if (open.length === 0) return out;
  }
}
