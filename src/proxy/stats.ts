/**
 * ProxyStats are the proxy's Prometheus metrics. Label children are created once per upstream
 * and reused on every request, so the hot path does no label hashing.
 */
import { Registry, Counter, Histogram, Gauge } from 'prom-client';

/** UpstreamStats are one upstream's pre-bound metric children. */
export interface UpstreamStats {
  /** byClass[n] counts responses of status class n (1..5). */
  readonly byClass: readonly { inc(): void }[];
  readonly connectFailures: { inc(): void };
  readonly latency: { observe(seconds: number): void };
}

export class ProxyStats {
  readonly registry = new Registry();
  readonly #requests: Counter<'upstream' | 'status_class'>;
  readonly #connectFail: Counter<'upstream'>;
  readonly #latency: Histogram<'upstream'>;
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
  readonly #cache = new Map<string, UpstreamStats>();

  constructor() {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'meshgate_upstream_rq_total', help: 'Requests forwarded to an upstream, by response status class.',
      labelNames: ['upstream', 'status_class'], registers,
    });
    this.#connectFail = new Counter({
      name: 'meshgate_upstream_cx_connect_fail_total', help: 'Connections to an upstream that failed to open.',
      labelNames: ['upstream'], registers,
    });
    this.#latency = new Histogram({
      name: 'meshgate_upstream_rq_time_seconds', help: 'Time from forwarding a request to the end of its response.',
      labelNames: ['upstream'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
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

  /** upstream returns the pre-bound children for one upstream (cluster name). */
  upstream(name: string): UpstreamStats {
    let s = this.#cache.get(name);
    if (!s) {
      s = {
        byClass: [0, 1, 2, 3, 4, 5].map((c) => this.#requests.labels(name, `${c}xx`)),
        connectFailures: this.#connectFail.labels(name),
        latency: this.#latency.labels(name),
      };
      this.#cache.set(name, s);
    }
    return s;
  }
}
