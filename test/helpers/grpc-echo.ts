/**
 * A gRPC echo service for tests, with @grpc/grpc-js on both sides and no .proto: messages are
 * raw bytes (a proxy never looks inside them). Echo answers `echo <text>` with a trailer naming
 * the caller's `x-client` metadata (and its x-forwarded-client-cert, when a sidecar added one),
 * or NOT_FOUND for `missing`; Count streams 1..n; Collect joins a request stream.
 */
import * as grpc from '@grpc/grpc-js';

/** A service without a .proto: messages are raw bytes (the proxy never looks inside them). */
const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};
export const ECHO = {
  echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, ...raw },
  count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, ...raw },
  collect: { path: '/test.Echo/Collect', requestStream: true, responseStream: false, ...raw },
} satisfies grpc.ServiceDefinition;

export type EchoClient = grpc.Client & {
  echo(req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  count(req: Buffer): grpc.ClientReadableStream<Buffer>;
  collect(cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientWritableStream<Buffer>;
};
export const EchoClient = grpc.makeGenericClientConstructor(ECHO, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials) => EchoClient;

export interface EchoServer {
  readonly port: number;
  close(): Promise<void>;
}

/** startEchoServer runs the gRPC server on 127.0.0.1, plaintext (h2c), as a meshed app would. */
export async function startEchoServer(): Promise<EchoServer> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const text = call.request.toString();
      if (text === 'missing') return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing: missing' });
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-trailer', `saw ${call.metadata.get('x-client')[0] ?? 'nothing'}`);
      const xfcc = call.metadata.get('x-forwarded-client-cert')[0];
      if (xfcc !== undefined) trailer.set('x-echo-xfcc', String(xfcc));
      cb(null, Buffer.from(`echo ${text}`), trailer);
    },
    count(call: grpc.ServerWritableStream<Buffer, Buffer>) {
      const n = Number(call.request.toString());
      for (let i = 1; i <= n; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
    collect(call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) {
      const parts: string[] = [];
      call.on('data', (b: Buffer) => parts.push(b.toString()));
      call.on('end', () => cb(null, Buffer.from(parts.join('+'))));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** unary makes one Echo call and reads its answer and trailing metadata. */
export function unary(c: EchoClient, text: string, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: string; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = c.echo(Buffer.from(text), md, (err, res) => {
      // 'status' (with the trailers) comes before or after the callback: wait a tick for it.
      setImmediate(() => resolve({ err, ...(res ? { res: res.toString() } : {}), ...(trailers ? { trailers } : {}) }));
    });
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}
