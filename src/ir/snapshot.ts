/**
 * The snapshot is the whole configuration of one proxy: plain, JSON-serializable data.
 * It is the only contract between the control plane and the data plane; it imports nothing
 * from the rest of src/ and never carries key material (it names credentials instead).
 */

/** Snapshot is everything one proxy needs, stamped with a content version. */
export interface Snapshot {
  /** version is the sha256 of the canonical JSON of the rest of the snapshot. */
  readonly version: string;
  /** proxy is the proxy name the snapshot is for (Gloo `proxyNames`), e.g. `gateway-proxy`. */
  readonly proxy: string;
  readonly listeners: readonly Listener[];
  /** upstreams by their cluster name, `<name>_<namespace>` as Gloo names Envoy clusters. */
  readonly upstreams: Readonly<Record<string, Upstream>>;
}

/** Listener is one port the proxy accepts on, built from one Gateway. */
export interface Listener {
  /** name is the Gateway's `<namespace>.<name>`. */
  readonly name: string;
  readonly bindAddress: string;
  readonly bindPort: number;
  readonly ssl: boolean;
  /** virtualHosts in the order Host matching tries them does not matter: the proxy indexes them. */
  readonly virtualHosts: readonly VirtualHost[];
  /** http is how the listener treats HTTP: limits, timeouts, path handling, trust (Envoy's HCM). */
  readonly http: HttpSettings;
  /** inbound makes this a sidecar's inbound listener, accepting mesh mTLS per PeerAuthentication. */
  readonly inbound?: InboundMtls;
  /**
   * forwardClientCertDetails is Envoy's XFCC handling: SANITIZE (the default: drop what the client
   * sent) or APPEND_FORWARD (a sidecar: on mTLS connections add the peer's details, on plaintext
   * ones drop any XFCC the client sent).
   */
  readonly forwardClientCertDetails?: 'SANITIZE' | 'APPEND_FORWARD';
  /** tls terminates HTTPS (an `ssl: true` Gateway); present exactly when ssl is true. */
  readonly tls?: ListenerTls;
}

/**
 * ListenerTls is HTTPS termination on a listener. It names certificates, never carries them:
 * the proxy reads key material through its SecretSource (secretRef) or from files (as Envoy
 * reads sslFiles). Everything but the certificate is per listener: with Node's TLS the protocol
 * version, ciphers, curves and session tickets are settled from the listener's context before
 * SNI picks a certificate.
 */
export interface ListenerTls {
  /** certificates in order; the one whose sniDomains hold `*`, else the first, is the default. */
  readonly certificates: readonly TlsCertificate[];
  /** alpn is what the listener offers, in preference order (empty: no ALPN, HTTP/1.1). */
  readonly alpn: readonly string[];
  readonly minVersion?: TlsVersion;
  readonly maxVersion?: TlsVersion;
  /** ciphers for TLS 1.0–1.2 (OpenSSL names); TLS 1.3 suites keep their defaults unless named (`TLS_…`). */
  readonly ciphers?: readonly string[];
  readonly ecdhCurves?: readonly string[];
  /** clientCa: client certificates are required and must chain to it. */
  readonly clientCa?: TlsSource;
  /** verifySubjectAltName: a client certificate must carry one of these SANs (any type, exact). */
  readonly verifySubjectAltName: readonly string[];
  /** sessionResumption: session tickets on (Gloo's disableTlsSessionResumption turns them off). */
  readonly sessionResumption: boolean;
}

/** TlsVersion is Gloo's protocol version name. */
export type TlsVersion = 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3';

/** TlsCertificate is one certificate and the SNI names it answers. */
export interface TlsCertificate {
  /** name is the VirtualService it comes from, `<namespace>.<name>`. */
  readonly name: string;
  /** sniDomains: exact names, `*.suffix` wildcards, and `*` for the default certificate. */
  readonly sniDomains: readonly string[];
  readonly secretRef?: SecretRef;
  readonly files?: { readonly certPath: string; readonly keyPath: string };
}

/** TlsSource is where a CA bundle is: a Secret's `ca.crt`, or a file on the proxy's machine. */
export type TlsSource = { readonly secretRef: SecretRef } | { readonly file: string };

/** SecretRef names a Secret; version (its resourceVersion) changes the snapshot when the Secret changes. */
export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly version: string;
}

/**
 * HttpSettings are a listener's HTTP connection manager settings (Gloo's
 * httpConnectionManagerSettings), with meshgate's defaults filled in by the translator.
 */
export interface HttpSettings {
  /** maxRequestHeadersBytes: larger request headers get 431 (Envoy: 60 KiB). */
  readonly maxRequestHeadersBytes: number;
  /** maxHeadersCount: more request headers get 431 (Envoy: 100). */
  readonly maxHeadersCount: number;
  /** requestHeadersTimeoutMs: a client must send its whole headers within this (0 = no limit). */
  readonly requestHeadersTimeoutMs: number;
  /** streamIdleTimeoutMs: a request with no activity for this long is ended (Envoy: 5 min). */
  readonly streamIdleTimeoutMs: number;
  /** idleTimeoutMs: a keep-alive connection with no request for this long is closed. */
  readonly idleTimeoutMs: number;
  /** drainTimeoutMs: how long a draining listener waits for requests in flight. */
  readonly drainTimeoutMs: number;
  /** maxConnections: the listener's open-connection limit (0 = none). */
  readonly maxConnections: number;
  /** normalizePath: RFC 3986 normalization before routing (Gloo sets it). */
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  /** useRemoteAddress: the client address is the connection's peer, appended to x-forwarded-for. */
  readonly useRemoteAddress: boolean;
  /** xffNumTrustedHops: how many x-forwarded-for entries from the right are trusted proxies. */
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  readonly generateRequestId: boolean;
  readonly acceptHttp10: boolean;
}

/**
 * DEFAULT_HTTP_SETTINGS are Envoy's defaults where they suit an edge proxy, and meshgate's where
 * Envoy has none (docs/security.md says which and why).
 */
export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  maxRequestHeadersBytes: 60 * 1024,
  maxHeadersCount: 100,
  // Envoy has no headers timeout by default; an edge proxy without one invites slowloris.
  requestHeadersTimeoutMs: 10_000,
  streamIdleTimeoutMs: 300_000,
  idleTimeoutMs: 3_600_000,
  drainTimeoutMs: 5_000,
  maxConnections: 0,
  normalizePath: true,
  mergeSlashes: false,
  pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
  headersWithUnderscoresAction: 'ALLOW',
  useRemoteAddress: true,
  xffNumTrustedHops: 0,
  skipXffAppend: false,
  generateRequestId: true,
  acceptHttp10: true,
};

/** InboundMtls is how a sidecar's inbound listener treats each new connection. */
export interface InboundMtls {
  /** mode: STRICT refuses plaintext, DISABLE refuses TLS, PERMISSIVE tells them apart by the first bytes. */
  readonly mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE';
  /** trustDomain a peer's SPIFFE identity must be in. */
  readonly trustDomain: string;
}

/** VirtualHost is one VirtualService: domains to match the Host against, routes in order. */
export interface VirtualHost {
  /** name is the VirtualService's `<namespace>.<name>`. */
  readonly name: string;
  /** domains are lower-case; `*` matches anything, `*.x` a suffix, `x.*` a prefix. */
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  readonly headers?: HeaderManipulation;
}

/** Route is one match and what to do with a request that matches it; the first match wins. */
export interface Route {
  /** name is `<vs namespace>.<vs name>.route-<index>` or the route's own `name`. */
  readonly name: string;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly headers?: HeaderManipulation;
}

/** PathMatch is how the request path (without the query) is compared. */
export type PathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'exact'; readonly value: string }
  /** regex must match the whole path (RE2 semantics as in Envoy's safe_regex). */
  | { readonly kind: 'regex'; readonly value: string };

/** RouteMatch is every condition a request must meet; all must hold. */
export interface RouteMatch {
  readonly path: PathMatch;
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatch[];
  readonly queryParameters: readonly QueryParameterMatch[];
  /** methods is empty for any method. */
  readonly methods: readonly string[];
}

/** HeaderMatch: no value and no regex means "present"; invert flips the result. */
export interface HeaderMatch {
  readonly name: string;
  readonly value?: string;
  readonly regex?: boolean;
  readonly invert: boolean;
}

/** QueryParameterMatch: no value means "present". */
export interface QueryParameterMatch {
  readonly name: string;
  readonly value?: string;
  readonly regex?: boolean;
}

/** RouteAction is what a matched route does. */
export type RouteAction = ForwardAction | DirectResponseAction | RedirectAction;

/** ForwardAction sends the request to one of its weighted destinations. */
export interface ForwardAction {
  readonly type: 'forward';
  /** destinations with weights; a destination whose upstream is absent answers 503 (Envoy: cluster not found). */
  readonly destinations: readonly WeightedDestination[];
  /** timeoutMs is the whole-request timeout; 0 disables it (Envoy/Gloo default 15000). */
  readonly timeoutMs: number;
  readonly retries?: RetryPolicy;
  /** prefixRewrite replaces the matched prefix (or the whole exact path). */
  readonly prefixRewrite?: string;
}

/** WeightedDestination is one upstream, named by cluster name, with a weight. */
export interface WeightedDestination {
  readonly upstream: string;
  readonly weight: number;
}

/** RetryPolicy follows Envoy's router retry policy. */
export interface RetryPolicy {
  /** retryOn are Envoy's conditions: 5xx, gateway-error, connect-failure, reset, retriable-4xx, retriable-status-codes. */
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  /** perTryTimeoutMs is 0 when each try may use the whole route timeout. */
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
}

/** DirectResponseAction answers from the proxy itself. */
export interface DirectResponseAction {
  readonly type: 'direct-response';
  readonly status: number;
  readonly body?: string;
}

/** RedirectAction answers with a redirect built from the request. */
export interface RedirectAction {
  readonly type: 'redirect';
  readonly status: number;
  readonly hostRedirect?: string;
  readonly pathRedirect?: string;
  readonly prefixRewrite?: string;
  readonly httpsRedirect: boolean;
  readonly stripQuery: boolean;
  readonly portRedirect?: number;
}

/** HeaderManipulation adds and removes request and response headers. */
export interface HeaderManipulation {
  readonly requestHeadersToAdd: readonly HeaderValueOption[];
  readonly requestHeadersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly HeaderValueOption[];
  readonly responseHeadersToRemove: readonly string[];
}

/** HeaderValueOption is one header to add; append false replaces any existing value. */
export interface HeaderValueOption {
  readonly key: string;
  readonly value: string;
  readonly append: boolean;
}

/** Upstream is a named group of endpoints and how to reach them. */
export interface Upstream {
  /** name is the cluster name, `<name>_<namespace>`. */
  readonly name: string;
  readonly connectTimeoutMs: number;
  /**
   * protocol spoken to the endpoints: HTTP/1.1, HTTP/2 (Gloo's useHttp2: h2c in plaintext, h2
   * over mTLS whatever ALPN settles, as Envoy uses the configured protocol), or the downstream
   * request's own (protocolSelection USE_DOWNSTREAM_PROTOCOL).
   */
  readonly protocol: UpstreamProtocol;
  readonly endpoints: readonly Endpoint[];
}

export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

/** Endpoint is one host:port of an upstream, with the labels of the workload behind it. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** serviceAccount of the workload, when known (from its WorkloadEntry). */
  readonly serviceAccount?: string;
  /** mtls: connect with the proxy's mesh identity (Istio mTLS); absent means plaintext. */
  readonly mtls?: EndpointMtls;
}

/** EndpointMtls is Istio mTLS origination towards one endpoint (the credential comes from outside the snapshot). */
export interface EndpointMtls {
  /** sni is Istio's `outbound_.<port>_._.<service>.<namespace>.svc.cluster.local`. */
  readonly sni: string;
  readonly alpn: readonly string[];
  /**
   * identities the server certificate's URI SAN must be one of ("secure naming"); empty means
   * any identity in trustDomain that chains to the mesh root.
   */
  readonly identities: readonly string[];
  readonly trustDomain: string;
}
