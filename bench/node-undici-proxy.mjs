#!/usr/bin/env node
// bench/node-undici-proxy.mjs: the benchmark's `node-undici` reference row, not part of meshgate.
//
//   node bench/node-undici-proxy.mjs LISTEN_PORT BACKEND_PORT
//
// The least a Node.js proxy can do with meshgate's own building blocks (a node:http server in
// front, an undici Pool driven through its dispatch interface behind): no routing, no header
// rules, no metrics, no timeouts, no edge checks. Issue #5's "40-line Node proxy on undici".
// Its row in `npm run bench` is the floor of the platform on the same machine in the same run,
// so the gap between it and nginx is what Node itself costs, and the gap between it and
// meshgate what meshgate's features cost.

import http from 'node:http';
import { Pool } from 'undici';

const [listenPort, backendPort] = process.argv.slice(2).map(Number);
if (!listenPort || !backendPort) {
  console.error('usage: node bench/node-undici-proxy.mjs LISTEN_PORT BACKEND_PORT');
  process.exit(2);
}
const pool = new Pool(`http://127.0.0.1:${backendPort}`, { connections: 1024, pipelining: 1 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'trailer']);

http
  .createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    pool.dispatch(
      { path: req.url, method: req.method, headers: req.rawHeaders },
      {
        onConnect() {},
        onHeaders(status, raw, resume) {
          const out = [];
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i].toString('latin1');
            if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
          }
          res.writeHead(status, out);
          res.on('drain', resume);
          return true;
        },
        onData: (chunk) => res.write(chunk),
        onComplete: () => res.end(),
        onError: () => (res.headersSent ? res.destroy() : res.writeHead(502).end()),
      },
    );
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`node-undici proxy on 127.0.0.1:${listenPort} -> ${backendPort}`));
process.on('SIGTERM', () => process.exit(0));
