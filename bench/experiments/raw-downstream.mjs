// Experiment: net sockets + Node's own llhttp (HTTPParser from _http_common) downstream, undici upstream.
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
