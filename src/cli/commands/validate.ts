/**
 * `validate -f`: the control plane's pipeline offline (parse → discovery → translate), with no
 * control plane running. Prints each resource's status; exits non-zero if any is rejected.
 */
import { withDiscovered } from '../../translate/discovery.js';
import { translate } from '../../translate/translator.js';
import { defaultResources } from '../../control-plane/defaults.js';
import { keyOf, keyString } from '../../config/resource-set.js';
import { loadResources } from './resources.js';

export async function validate(file: string, namespace?: string): Promise<{ lines: string[]; ok: boolean }> {
  const given = await loadResources(file, namespace);
  const givenKeys = new Set(given.map((r) => keyString(keyOf(r))));
  // The defaults a fresh data directory would have, unless the input brings its own.
  const defaults = defaultResources().filter((d) => !givenKeys.has(keyString(keyOf(d))));
  const all = withDiscovered([...defaults, ...given]);
  const { outcomes } = translate(all);
  const lines: string[] = [];
  let ok = true;
  for (const r of given) {
    const o = outcomes.get(keyString(keyOf(r)));
    const state = o?.state ?? 'Accepted';
    if (state === 'Rejected') ok = false;
    lines.push(`${r.kind} ${r.metadata.namespace}/${r.metadata.name}: ${state}${o?.reason ? `: ${o.reason}` : ''}`);
  }
  return { lines, ok };
}
