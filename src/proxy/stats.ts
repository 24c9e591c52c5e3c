/**
 * ProxyStats are the proxy's Prometheus metrics. The per-request ones (by upstream) count in
 * plain numbers, created once per upstream: prom-client validates and hashes the labels on every
 * inc() or observe(), even on a child from labels(), which showed in profiles. What they count
 * is handed to prom-client when the metrics are read (its collect hook, for counters), or read
 * there directly (the latency histogram, which prom-client cannot add to in bulk).
 */
import { Registry, Counter, Histogram, Gauge } from 'prom-client';

/** UpstreamStats are one upstream's pre-bound metric children. */
export interface UpstreamStats {
  /** byClass[n] counts responses of status class n (1..5). */
  readonly byClass: readonly { inc(): void }[];
  readonly connectFailures: { inc(): void };
  readonly latency: { observe(seconds: number): void };
}

/** LATENCY_BUCKETS are meshgate_upstream_rq_time_seconds's upper bounds (seconds). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Tally counts in a plain number until collect() hands the count to prom-client. */
class Tally {
  n = 0;
  inc(): void {
    this.n++;
  }
}

/** Latency is one upstream's request times: counts per bucket (the last: above every bound), sum and count. */
class Latency {
  readonly counts: number[] = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** UpstreamSeries are one upstream's counts, as ProxyStats keeps them. */
interface UpstreamSeries {
  readonly byClass: readonly Tally[];
  readonly connectFailures: Tally;
  readonly latency: Latency;
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * LatencyMetric is meshgate_upstream_rq_time_seconds: a histogram as prom-client's registry
 * reads one (name, help, type, aggregator, get(), reset()), with the values prom-client's own
 * Histogram would give (a series appears once observed; cumulative buckets, +Inf, sum, count).
 */
class LatencyMetric {
  readonly name = 'meshgate_upstream_rq_time_seconds';
  readonly help = 'Time from forwarding a request to the end of its response.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(readonly series: ReadonlyMap<string, UpstreamSeries>) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const [upstream, { latency: l }] of this.series) {
      if (l.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        acc += l.counts[i]!;
        values.push({ labels: { le: LATENCY_BUCKETS[i]!, upstream }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push(
        { labels: { le: '+Inf', upstream }, value: l.count, metricName: `${this.name}_bucket` },
        { labels: { upstream }, value: l.sum, metricName: `${this.name}_sum` },
        { labels: { upstream }, value: l.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const { latency: l } of this.series.values()) {
      l.counts.fill(0);
      l.sum = 0;
      l.count = 0;
    }
  }
}

export class ProxyStats {
  readonly registry = new Registry();
  readonly #requests: Counter<'upstream' | 'status_class'>;
  readonly #connectFail: Counter<'upstream'>;
  readonly localReplies: Counter<'status_class' | 'details'>;
  readonly downstreamErrors: Counter<'reason'>;
  readonly snapshotsApplied: Counter<'result'>;
  readonly activeConnections: Gauge<'listener'>;
  /** downstreamCxOverflow counts connections closed at accept because the listener was at maxConnections. */
  readonly downstreamCxOverflow: Counter<'listener'>;
  /** droppedUnderscoreHeaders counts headers removed by headersWithUnderscoresAction DROP_HEADER. */
  readonly droppedUnderscoreHeaders: Counter;
  /**
   * responseBeforeRequestComplete counts responses that began before the request body was read
   * in full; their connection is closed after the response (Envoy's
   * downstream_rq_response_before_rq_complete).
   */
  readonly responseBeforeRequestComplete: Counter;
  /** upgrades counts client connections upgraded (a WebSocket tunnel set up), by listener (Envoy's downstream_cx_upgrades_total). */
  readonly upgrades: Counter<'listener'>;
  /** upgradesActive are the upgraded connections open now, by listener (Envoy's downstream_cx_upgrades_active). */
  readonly upgradesActive: Gauge<'listener'>;
  readonly #cache = new Map<string, UpstreamSeries>();

  constructor() {
    const registers = [this.registry];
    const cache = this.#cache;
    this.#requests = new Counter({
      name: 'meshgate_upstream_rq_total', help: 'Requests forwarded to an upstream, by response status class.',
      labelNames: ['upstream', 'status_class'], registers,
      collect() {
        for (const [upstream, s] of cache) {
          s.byClass.forEach((t, c) => {
            if (t.n > 0) this.inc({ upstream, status_class: `${c}xx` }, t.n);
            t.n = 0;
          });
        }
      },
    });
    this.#connectFail = new Counter({
      name: 'meshgate_upstream_cx_connect_fail_total', help: 'Connections to an upstream that failed to open.',
      labelNames: ['upstream'], registers,
      collect() {
        for (const [upstream, s] of cache) {
          if (s.connectFailures.n > 0) this.inc({ upstream }, s.connectFailures.n);
          s.connectFailures.n = 0;
        }
      },
    });
    // The registry takes any object that reads like a metric; its type only lists prom-client's own.
    this.registry.registerMetric(new LatencyMetric(cache) as unknown as Histogram);
    this.localReplies = new Counter({
      name: 'meshgate_local_replies_total', help: 'Responses the proxy made itself, by status class and reason.',
      labelNames: ['status_class', 'details'], registers,
    });
    this.downstreamErrors = new Counter({
      name: 'meshgate_downstream_rq_errors_total', help: 'Malformed or refused client requests, by reason.',
      labelNames: ['reason'], registers,
    });
    this.snapshotsApplied = new Counter({
      name: 'meshgate_snapshots_total', help: 'Snapshots offered to the proxy, by result (ack or nack).',
      labelNames: ['result'], registers,
    });
    this.activeConnections = new Gauge({
      name: 'meshgate_downstream_cx_active', help: 'Open client connections, by listener.',
      labelNames: ['listener'], registers,
    });
    this.downstreamCxOverflow = new Counter({
      name: 'meshgate_downstream_cx_overflow_total', help: 'Client connections closed at once because the listener had maxConnections open.',
      labelNames: ['listener'], registers,
    });
    this.droppedUnderscoreHeaders = new Counter({
      name: 'meshgate_downstream_dropped_headers_with_underscores_total', help: 'Request headers dropped for an underscore in their name (headersWithUnderscoresAction DROP_HEADER).',
      registers,
    });
    this.responseBeforeRequestComplete = new Counter({
      name: 'meshgate_downstream_rq_response_before_rq_complete_total', help: 'Responses begun before the request was read in full; the connection closes after them.',
      registers,
    });
    this.upgrades = new Counter({
      name: 'meshgate_downstream_cx_upgrades_total', help: 'Client connections upgraded (WebSocket) and tunneled to an upstream, by listener.',
      labelNames: ['listener'], registers,
    });
    this.upgradesActive = new Gauge({
      name: 'meshgate_downstream_cx_upgrades_active', help: 'Upgraded client connections open now, by listener.',
      labelNames: ['listener'], registers,
    });
  }

  /** upstream returns the counters for one upstream (cluster name), created once. */
  upstream(name: string): UpstreamStats {
    let s = this.#cache.get(name);
    if (!s) {
      s = { byClass: [0, 1, 2, 3, 4, 5].map(() => new Tally()), connectFailures: new Tally(), latency: new Latency() };
      this.#cache.set(name, s);
    }
    return s;
  }
}
