/**
 * validateSnapshot checks the invariants the proxy relies on. An issue here is a bug in the
 * translator, not a user mistake (user mistakes become conditions on resources).
 */
import type { Snapshot } from './snapshot.js';

/** IrIssue is one broken invariant, with the path of the offending value. */
export interface IrIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * validateSnapshot returns every broken invariant; it never throws. validated, when given, holds
 * virtual hosts and upstream records already found valid (skipped), and receives those found
 * valid now: a proxy applying snapshot after snapshot checks each of these objects once.
 */
export function validateSnapshot(s: Snapshot, validated?: WeakSet<object>): IrIssue[] {
  const issues: IrIssue[] = [];
  const ports = new Map<string, string>();
  s.listeners.forEach((l, li) => {
    const key = `${l.bindAddress}:${l.bindPort}`;
    const other = ports.get(key);
    if (other) issues.push({ path: `listeners[${li}]`, message: `port ${key} is also used by ${other}` });
    ports.set(key, l.name);
    if (l.ssl !== (l.tls !== undefined)) issues.push({ path: `listeners[${li}]`, message: l.ssl ? 'an ssl listener without tls' : 'tls on a listener that is not ssl' });
    if (l.tls && l.tls.certificates.length === 0) issues.push({ path: `listeners[${li}].tls`, message: 'tls without certificates' });
    l.tls?.certificates.forEach((c, ci) => {
      if ((c.secretRef === undefined) === (c.files === undefined)) issues.push({ path: `listeners[${li}].tls.certificates[${ci}]`, message: 'a certificate needs exactly one of secretRef and files' });
    });
    l.virtualHosts.forEach((vh, vi) => {
      if (validated?.has(vh)) return;
      const before = issues.length;
      vh.routes.forEach((r, ri) => {
        const p = `listeners[${li}].virtualHosts[${vi}].routes[${ri}]`;
        if (r.action.type === 'forward') {
          if (r.action.destinations.length === 0) issues.push({ path: p, message: 'forward action without destinations' });
          if (r.action.destinations.every((d) => d.weight <= 0)) issues.push({ path: p, message: 'no destination has a positive weight' });
        }
        if (r.match.path.kind === 'regex') {
          try {
            new RegExp(r.match.path.value);
          } catch {
            issues.push({ path: p, message: 'regex does not compile' });
          }
        }
      });
      if (issues.length === before) validated?.add(vh);
    });
  });
  if (!validated?.has(s.upstreams)) {
    const before = issues.length;
    for (const [name, u] of Object.entries(s.upstreams)) {
      if (u.name !== name) issues.push({ path: `upstreams.${name}`, message: `name ${u.name} differs from its key` });
    }
    if (issues.length === before) validated?.add(s.upstreams);
  }
  return issues;
}
