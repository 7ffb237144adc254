// A VM's worker thread: builds one Vm from the spec it was started with, runs it, and
// turns messages into actions and the Vm's events into messages. Everything the guest
// does happens here, never on the daemon's main thread.

import { randomFillSync } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { Hmp } from '../../vmm/hmp.js';
import { IllegalTransition } from '../../vmm/lifecycle.js';
import { QmpServer } from '../../vmm/qmp/server.js';
import { Vm } from '../../vmm/vm.js';
import { VmError } from '../../vmm/vm-services.js';
import { SpecError } from '../../vmm/spec.js';
import { readBootFiles } from '../vm/boot-files.js';
import { nodeDevices } from '../vm/devices.js';
import { IoCounters } from '../vm/io-counters.js';
import { FileSnapshotStore } from '../vm/snapshot-store.js';
import { nodeHartThreads, threadsAvailable } from '../vcpu/node-threads.js';
import { reclaimTranslatedCode } from '../engine/code-reclaim.js';
import { ImageError } from '../image/errors.js';
import { MigrationController } from '../migration/controller.js';
import { MigrationError } from '../../vmm/migration/stream.js';
import type { FromWorker, ToWorker, VmStats, WorkerStart } from './worker-protocol.js';

if (!parentPort) throw new Error('vm-worker.js runs in a worker thread');
const port = parentPort;
const start = workerData as WorkerStart;
const post = (m: FromWorker) => port.postMessage(m);
const counters = new IoCounters();
reclaimTranslatedCode();

/** Errors the user can fix: a bad image, disk, snapshot or spec. */
function userFacing(e: unknown): e is Error {
  return e instanceof VmError || e instanceof SpecError || e instanceof ImageError || e instanceof RangeError || e instanceof IllegalTransition
    || e instanceof MigrationError;
}

async function main(): Promise<void> {
  let vm: Vm;
  try {
    const boot = await readBootFiles(start.spec);
    vm = new Vm({
      spec: start.spec,
      boot,
      services: {
        openDevices: nodeDevices({ counters, switchLinks: start.switchLinks }),
        snapshots: new FileSnapshotStore(start.snapshotDir),
        entropy: (buf) => randomFillSync(buf),
        // Copied: the board may reuse its buffer, and a transfer would take it away.
        console: (bytes) => post({ type: 'console', bytes: Uint8Array.from(bytes) }),
        ...(threadsAvailable() && { hartThreads: nodeHartThreads() }),
      },
      loadvm: start.loadvm,
      incoming: start.incoming !== undefined,
    });
  } catch (e) {
    if (!userFacing(e)) throw e;
    post({ type: 'failed', message: e.message });
    return;
  }
  vm.onEvent((event) => post({ type: 'event', event }));
  const migration = new MigrationController(vm);
  vm.migration = migration;
  migration.onEvent((event) => post({ type: 'event', event }));
  // A guest that never arrives leaves nothing behind: the VM ends, and says why.
  migration.onIncomingFailure = (e) => {
    post({ type: 'failed', message: `the incoming migration failed: ${e.message}` });
    vm.quit();
  };
  if (start.incoming !== undefined) migration.listen(start.incoming, (uri) => post({ type: 'incoming', uri }));
  // A test hook: a VM that breaks (as a bug would, or a guest driving a device into a
  // corner) some time after it starts, to show that it takes nothing else down.
  const crashAfter = Number(start.spec.labels['rvisor.test/crash-after-ms']);
  if (start.testHooks && crashAfter > 0) setTimeout(() => { throw new Error('this VM was broken on purpose (rvisor.test/crash-after-ms)'); }, crashAfter);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'cpu') {
      vm.setAllowance(m.allowance);
      return;
    }
    if (m.type === 'stats') {
      post({ type: 'stats', id: m.id, stats: stats(vm) });
      return;
    }
    if (m.type === 'migrate' || m.type === 'predict') {
      const replyError = (e: unknown) => {
        if (!userFacing(e)) throw e;
        post({ type: 'reply', id: m.id, error: { message: e.message, illegal: false } });
      };
      try {
        if (m.downtimeLimitMs !== undefined) migration.setParameters({ downtimeLimitMs: m.downtimeLimitMs });
        (m.type === 'migrate' ? migration.migrate(m.uri, { blk: m.blk === true }) : migration.predict(m.uri, 1)).then((result) => post({ type: 'reply', id: m.id, result }), replyError);
      } catch (e) {
        replyError(e);
      }
      return;
    }
    const a = m.action;
    vm.dispatch(a).then(
      () => post({ type: 'reply', id: m.id }),
      (e: unknown) => {
        if (!userFacing(e)) throw e;
        post({ type: 'reply', id: m.id, error: { message: e.message, illegal: e instanceof IllegalTransition } });
      },
    );
  });
  // The VM's own QMP socket, for QEMU's tools (qmp-shell, virsh qemu-monitor-command).
  const qmp = new QmpServer({ control: vm, hmp: new Hmp(vm) });
  await qmp.listen({ kind: 'unix', path: start.qmpSocket });
  const run = vm.run();
  void vm.attached.then(() => post({ type: 'started' }));
  try {
    post({ type: 'exit', exit: await run });
  } catch (e) {
    // A disk or share that does not open (the first machine's devices, or a reset's).
    if (!userFacing(e)) throw e;
    post({ type: 'failed', message: e.message });
  }
  await qmp.close();
  port.close();
}

function stats(vm: Vm): VmStats {
  const c = vm.counters();
  return {
    cpu: vm.cpuTime(),
    harts: c.harts,
    translator: vm.translatorStats(),
    ramTouchedBytes: c.ramTouchedBytes,
    disk: { readBytes: counters.diskReadBytes, writeBytes: counters.diskWriteBytes, requests: counters.diskRequests },
    net: { rxBytes: counters.netRxBytes, txBytes: counters.netTxBytes, rxFrames: counters.netRxFrames, txFrames: counters.netTxFrames },
  };
}

await main();
