// bench/targets.mjs: issue #5's six targets, read off one bench run's results (pure: no I/O, so
// bench/targets.test.mjs can check every verdict). bench.mjs prints the table this returns.

/** Goals, as issue #5 states them. */
export const GOALS = {
  oneCoreRps: 0.5, // meshgate / nginx requests/s, one pinned core
  oneCoreP99: 3, // meshgate p99 / nginx p99, at most
  allCoresRps: 0.5,
  latencyAddedP99Ms: 0.5, // p99 added over going to the backend directly, at 1,000 req/s
  mtlsVsPlain: 0.8, // meshgate over pooled mTLS / meshgate plaintext
  translateMs: 1000, // full translation of 10,000 VirtualServices and 10,000 Upstreams
  applyP99Ms: 100, // one apply live on the proxy, p99
  proxyRssMb: 250,
  // Route lookup at 10,000 virtual hosts over at 10: "does not grow with the number of virtual
  // hosts". A hash lookup still gets slower as its table outgrows the CPU caches (2-3x here for
  // 1,000x the hosts); a scan would be ~1,000x. So: at most 5x.
  lookupGrowth: 5,
  caCertsPerSecond: 2000,
};

const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const verdict = (ok) => (ok === null ? '-' : ok ? 'met' : 'MISSED');
const atLeast = (v, goal) => (v === null ? null : v >= goal);
const atMost = (v, goal) => (v === null ? null : v <= goal);
const f = (v, digits = 2) => (v === null ? '-' : v.toFixed(digits));
const fi = (v) => (v === null ? '-' : Math.round(v).toLocaleString('en-US'));
const ratio = (v) => (v === null ? '-' : `${f(v)}x`);
const ms = (v) => (v === null ? '-' : `${f(v, 1)} ms`);

/**
 * targetRows builds the summary: one row per figure, [target, measured, goal, verdict, floor].
 * floor is the same figure for the `node-undici` reference proxy (bench/node-undici-proxy.mjs)
 * where one applies: what a featureless Node proxy on the same building blocks reaches in the
 * same run, so a missed goal can be read against what the platform allows.
 * rows: the proxy rows by id (each { summary, vsNginx, latency, mtls } as bench.mjs leaves them);
 * scale: runScaleBench's result or null; ca: runCaBench's result or null. A figure that was not
 * measured shows '-' and no verdict.
 */
export function targetRows(rows, scale, ca) {
  const out = [];
  const meshgate = rows.get('meshgate');
  const all = rows.get('meshgate-all');
  const rps1 = num(meshgate?.vsNginx?.requestsPerSecRatio);
  const p991 = num(meshgate?.vsNginx?.p99Ratio);
  const floor = rows.get('node-undici');
  out.push(['1. one core: req/s vs nginx', ratio(rps1), `>= ${GOALS.oneCoreRps}x`, verdict(atLeast(rps1, GOALS.oneCoreRps)), ratio(num(floor?.vsNginx?.requestsPerSecRatio))]);
  out.push(['1. one core: p99 vs nginx', ratio(p991), `<= ${GOALS.oneCoreP99}x`, verdict(atMost(p991, GOALS.oneCoreP99)), ratio(num(floor?.vsNginx?.p99Ratio))]);
  const rpsAll = num(all?.vsNginx?.requestsPerSecRatio);
  out.push(['2. all cores: req/s vs nginx', ratio(rpsAll), `>= ${GOALS.allCoresRps}x`, verdict(atLeast(rpsAll, GOALS.allCoresRps))]);
  const added = num(rows.get('meshgate-latency')?.latency?.p99AddedMs);
  const floorAdded = num(rows.get('node-undici-latency')?.latency?.p99AddedMs);
  out.push(['3. p99 added at 1,000 req/s, 1 kB', ms(added), `<= ${GOALS.latencyAddedP99Ms} ms`, verdict(atMost(added, GOALS.latencyAddedP99Ms)), ms(floorAdded)]);
  const mtls = num(rows.get('meshgate-mtls')?.mtls?.vsPlaintext);
  out.push(['4. pooled mTLS vs plaintext', ratio(mtls), `>= ${GOALS.mtlsVsPlain}x`, verdict(atLeast(mtls, GOALS.mtlsVsPlain))]);
  const hs = num(rows.get('meshgate-mtls-handshake')?.mtls?.upstreamTlsConnsPerSec);
  out.push(['4. new upstream mTLS connections (ECDSA P-256)', hs === null ? '-' : `${fi(hs)} handshakes/s`, '(reported)', '-']);
  const tr = num(scale?.translateMs);
  out.push([`5. full translation (${scaleSize(scale)})`, tr === null ? '-' : `${fi(tr)} ms`, `<= ${GOALS.translateMs} ms`, verdict(atMost(tr, GOALS.translateMs))]);
  const ap = num(scale?.applyP99Ms);
  out.push(['5. one apply live on the proxy, p99', ms(ap), `<= ${GOALS.applyP99Ms} ms`, verdict(atMost(ap, GOALS.applyP99Ms))]);
  const rss = num(scale?.proxyRssMb);
  out.push(['5. proxy RSS with that config', rss === null ? '-' : `${fi(rss)} MB`, `<= ${GOALS.proxyRssMb} MB`, verdict(atMost(rss, GOALS.proxyRssMb))]);
  const small = num(scale?.lookupNsPerOp?.[10]?.mixed);
  const big = num(scale?.lookupNsPerOp?.[10000]?.mixed);
  const growth = small !== null && big !== null && small > 0 ? big / small : null;
  out.push([
    '5. route lookup, 10,000 vs 10 virtual hosts',
    growth === null ? '-' : `${f(growth)}x (${fi(big)} vs ${fi(small)} ns)`,
    `<= ${GOALS.lookupGrowth}x`,
    verdict(atMost(growth, GOALS.lookupGrowth)),
  ]);
  const certs = num(ca?.certsPerSecond);
  out.push(['6. CA issuance (signing path, one core)', certs === null ? '-' : `${fi(certs)} certs/s`, `>= ${fi(GOALS.caCertsPerSecond)}`, verdict(atLeast(certs, GOALS.caCertsPerSecond))]);
  const grpc = num(ca?.grpc?.certsPerSecond);
  out.push(['6. CA over gRPC (CreateCertificate, TLS)', grpc === null ? '-' : `${fi(grpc)} certs/s`, '(reported)', '-']);
  // The floor applies to the proxy figures of a Node process only; the rest leave it blank.
  return out.map((r) => (r.length === 4 ? [...r, ''] : r));
}

function scaleSize(scale) {
  if (!scale) return '10,000 VS + 10,000 US';
  return `${fi(scale.virtualServices)} VS + ${fi(scale.upstreams)} US`;
}
