/**
 * startProxy runs a real Proxy for a test: every listener bindPort the test names is mapped to
 * a free port on 127.0.0.1, and the whole thing is closed by close() (idempotent, for after()).
 */
import { Proxy } from '../../src/proxy/proxy.js';
import { silentLogger } from '../../src/log.js';
import type * as ir from '../../src/ir/index.js';
import { freePort } from './ports.js';
import { HTTP_PORT } from './snapshot.js';

export interface TestProxy {
  readonly proxy: Proxy;
  /** port is where bindPort 8080 listens. */
  readonly port: number;
  /** portFor returns where a bindPort listens. */
  portFor(bindPort: number): number;
  apply(s: ir.Snapshot): Promise<void>;
  close(): Promise<void>;
}

export interface StartProxyOptions {
  /** bindPorts to map to free ports (default [8080]). */
  readonly bindPorts?: readonly number[];
  /** portMap entries used as given (e.g. a port the test keeps busy). */
  readonly portMap?: Readonly<Record<number, number>>;
  readonly drainMs?: number;
  /** snapshot, when given, is applied before returning. */
  readonly snapshot?: ir.Snapshot;
}

export async function startProxy(opts: StartProxyOptions = {}): Promise<TestProxy> {
  const portMap: Record<number, number> = { ...opts.portMap };
  for (const bp of opts.bindPorts ?? [HTTP_PORT]) portMap[bp] ??= await freePort();
  const proxy = new Proxy({ portMap, bindAddress: '127.0.0.1', drainMs: opts.drainMs ?? 2000, log: silentLogger });
  let closed: Promise<void> | undefined;
  const tp: TestProxy = {
    proxy,
    port: portMap[HTTP_PORT] ?? 0,
    portFor(bp: number) {
      const p = portMap[bp];
      if (p === undefined) throw new Error(`bindPort ${bp} is not mapped`);
      return p;
    },
    apply: (s) => proxy.applySnapshot(s),
    close() {
      closed ??= proxy.close();
      return closed;
    },
  };
  if (opts.snapshot) await tp.apply(opts.snapshot);
  return tp;
}
