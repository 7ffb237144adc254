// The VMM control surface (issue 6): QMP and HMP monitors, the GDB stub, and their
// adapters to rvisor's harts.

export * from './address.js';
export * from './control.js';
export { Hmp, QEMU_VERSION } from './hmp.js';
export { MonitorConsole } from './hmp-console.js';
export { QmpServer, timestamp, type QmpServerOptions } from './qmp/server.js';
export { GdbServer, type GdbServerOptions } from './gdb/server.js';
export { GdbSession } from './gdb/session.js';
export type { Breakpoint, BreakKind, DebugTarget, StopReason, WatchKind } from './gdb/target.js';
export { REGISTERS, TARGET_XML, type RegRef } from './gdb/registers.js';
export { HartDebugTarget, type RunControl } from './virt-target.js';
export { debugRead, debugTranslate, debugWrite } from './guest-walk.js';
export { readSnapshot, writeSnapshot, SNAPSHOT_VERSION, type SnapshotVersion } from './snapshot-file.js';
export { SnapshotError } from '../devices/snapshot.js';
export { restoreVirt, saveVirt, type MachineSnapshot } from '../machine/virt-snapshot.js';
