// The control sockets of a `rvisor run`: QMP (--qmp), the GDB stub (--gdb, -s) and the
// human monitor on the console (Ctrl-A C), all over the one Vm (which keeps them valid
// across the machine rebuilds of a reset or loadvm).

import { AddressError, GdbServer, Hmp, MonitorConsole, QmpServer, parseGdbAddress, parseListenAddress } from '../vmm/index.js';
import type { Vm } from '../vmm/vm.js';
import { UsageError } from './errors.js';

export interface SocketOptions {
  qmp?: string;
  gdb?: string;
  /** Where the monitor's output goes (the terminal). */
  write: (text: string) => void;
}

export class VmSockets {
  readonly hmp: Hmp;
  readonly monitor: MonitorConsole;
  private qmp: QmpServer | undefined;
  private gdb: GdbServer | undefined;

  constructor(private readonly vm: Vm, private readonly o: SocketOptions) {
    this.hmp = new Hmp(vm);
    this.monitor = new MonitorConsole(this.hmp, o.write);
  }

  async listen(): Promise<void> {
    try {
      if (this.o.qmp) {
        this.qmp = new QmpServer({ control: this.vm, hmp: this.hmp });
        await this.qmp.listen(parseListenAddress(this.o.qmp, '--qmp'));
      }
      const target = this.vm.debug;
      if (this.o.gdb && target) {
        this.gdb = new GdbServer({
          target,
          monitor: (line) => this.hmp.execute(line),
          // The target has no harts before the first machine exists.
          ready: this.vm.attached,
          onError: (e) => process.stderr.write(`rvisor: internal error in the GDB stub: ${e instanceof Error ? e.stack : String(e)}\n`),
        });
        await this.gdb.listen(parseGdbAddress(this.o.gdb));
      }
    } catch (e) {
      await this.close();
      if (e instanceof AddressError) throw new UsageError(e.message);
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') throw new UsageError(`cannot listen: ${err.message}`);
      throw e;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.qmp?.close(), this.gdb?.close()]);
  }
}
