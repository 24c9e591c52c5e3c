#!/usr/bin/env node
// bench/experiments/raw-downstream.mjs: an EXPERIMENT, not used by meshgate or by `npm run bench`.
//
//   node bench/experiments/raw-downstream.mjs LISTEN_PORT BACKEND_PORT
//
// Issue #5 asks to consider "writing the downstream side on net sockets with Node's own HTTP
// parser". This is the least such a proxy does, to measure what it could gain over node:http
// before anyone builds it: net.Server, Node's llhttp binding (HTTPParser from the undocumented
// `_http_common` module) fed from 'data' events, the response head written as one string, and
// the same undici Pool behind as bench/node-undici-proxy.mjs. It is NOT safe: no limits, no
// timeouts, no request bodies, no keep-alive rules, no chunked responses, no error replies.
// Results and method: docs/performance.md, "What stands in the way".
import net from 'node:net';
import { createRequire } from 'node:module';
import { STATUS_CODES } from 'node:http';
import { Pool } from 'undici';
const require = createRequire(import.meta.url);
const { HTTPParser, methods } = require('_http_common');
const [listenPort, backendPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${backendPort}`, { connections: 1024, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'trailer']);
const kOnHeadersComplete = HTTPParser.kOnHeadersComplete | 0;
const kOnMessageComplete = HTTPParser.kOnMessageComplete | 0;
class Handler {
  constructor(socket) { this.socket = socket; }
  onConnect() {}
  onHeaders(status, raw, resume) {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n`;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i].toString('latin1');
      if (!HOP.has(name.toLowerCase())) head += `${name}: ${raw[i + 1].toString('latin1')}\r\n`;
    }
    this.socket.cork();
    this.socket.write(head + '\r\n', 'latin1');
    return true;
  }
  onData(chunk) { return this.socket.write(chunk); }
  onComplete() { this.socket.uncork(); }
  onError() { this.socket.destroy(); }
}
net.createServer({ noDelay: true }, (socket) => {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  parser[kOnHeadersComplete] = (major, minor, headers, method, url) => {
    pool.dispatch({ path: url, method: methods[method], headers }, new Handler(socket));
  };
  parser[kOnMessageComplete] = () => {};
  socket.on('data', (d) => { const r = parser.execute(d); if (r instanceof Error) socket.destroy(); });
  socket.on('error', () => {});
  socket.on('close', () => parser.free?.());
}).listen(listenPort, '127.0.0.1', () => console.log('raw proxy on', listenPort));
process.on('SIGTERM', () => process.exit(0));
