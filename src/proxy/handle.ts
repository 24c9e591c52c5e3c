/** ProxyHandle is what the admin port and `up` need from a proxy, run in one process or in workers. */
import type * as ir from '../ir/index.js';
import type { ListenerAddress } from './proxy.js';

export interface ProxyHandle {
  readonly current: ir.Snapshot | undefined;
  addresses(): ListenerAddress[];
  hostPortFor(bindAddress: string, bindPort: number): { host: string; port: number };
  applySnapshot(s: ir.Snapshot): Promise<void>;
  metrics(): Promise<string>;
  readonly metricsContentType: string;
  close(drainMs?: number): Promise<void>;
}

