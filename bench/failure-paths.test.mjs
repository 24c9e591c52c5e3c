// The bench's failure paths, without measuring anything: node --test bench/failure-paths.test.mjs
// A meshgate that does not start must fail its rows (exit 1, table still printed) and leave no
// process or temp file behind; bad flags exit 2. Needs the bench's tools (scripts/system-deps.sh
// bench); skipped without them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('./bench.mjs', import.meta.url));
const TOOLS = ['/usr/sbin/nginx', '/usr/bin/wrk', '/usr/bin/h2load', '/usr/bin/openssl'];
const missing = TOOLS.filter((f) => !fs.existsSync(f));
// the latency and mTLS rows also need hey and haproxy (the mTLS upstream)
const missingLatencyMtls = [...TOOLS, '/usr/bin/hey', '/usr/sbin/haproxy'].filter((f) => !fs.existsSync(f));

function runBench(args, env = {}) {
  return spawnSync(process.execPath, [BENCH, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

test('unknown --only names exit 2 with the usage', () => {
  const r = runBench(['--only', 'nginx-h3']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--only: unknown target "nginx-h3"/);
  assert.match(r.stderr, /groups: {3}plain \(HTTP\/1\.1 rows\), tls/);
});

test('a meshgate that cannot start fails its TLS and HTTP/2 rows, exit 1, nothing left behind', { skip: missing.length ? `missing ${missing.join(', ')}` : false }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-failure-test-'));
  try {
    const standIn = path.join(tmp, 'meshgate-stand-in.mjs');
    fs.writeFileSync(standIn, "console.error('stand-in: refusing to start'); process.exit(3);\n");
    const r = runBench(['--quick', '--warmup', '0', '--only', 'meshgate-tls,meshgate-h2,meshgate-h2c'], {
      MESHGATE_BIN: standIn,
      TMPDIR: tmp, // the bench's temp dir goes here, so the test can check it is removed
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    // the table is printed, one FAILED line per row, with the reason
    assert.match(r.stdout, /^meshgate-tls +1 process, core 0 +FAILED: meshgate-tls exited with code 3 before 200 on admin \/ready$/m);
    assert.match(r.stdout, /^meshgate-h2 +1 process, core 0 +FAILED: meshgate-tls exited with code 3/m);
    assert.match(r.stdout, /^meshgate-h2c +1 process, core 0 +FAILED: meshgate-h2c exited with code 3/m);
    assert.match(r.stderr, /stand-in: refusing to start/); // the server's own output is shown
    assert.match(r.stderr, /meshgate-tls, meshgate-h2, meshgate-h2c failed; exit code 1/);
    // the backend nginx is gone and the temp dir (certificate, configs, logs) removed
    assert.deepEqual(fs.readdirSync(tmp), ['meshgate-stand-in.mjs']);
    const left = spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' });
    assert.equal(left.stdout.trim(), '', `processes left: ${left.stdout}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('a meshgate that cannot start fails its latency and mTLS rows; direct is still measured', { skip: missingLatencyMtls.length ? `missing ${missingLatencyMtls.join(', ')}` : false }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-failure-test-'));
  try {
    const standIn = path.join(tmp, 'meshgate-stand-in.mjs');
    fs.writeFileSync(standIn, "console.error('stand-in: refusing to start'); process.exit(3);\n");
    // one second of hey against direct (the backend's twin): the only load this test generates
    const r = runBench(['--quick', '--warmup', '0', '--latency-duration', '1', '--only', 'meshgate-latency,meshgate-mtls'], {
      MESHGATE_BIN: standIn,
      TMPDIR: tmp,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    // the plaintext row comes along as meshgate-mtls's baseline, direct as meshgate-latency's
    assert.match(r.stdout, /^meshgate +1 process, core 0 +FAILED: meshgate exited with code 3/m);
    // measured: a rate (with `*` when a busy machine kept hey below the fixed rate), then p50
    assert.match(r.stdout, /^direct +backend twin(, core 0)? +[\d,]+\*? +\d/m);
    assert.match(r.stdout, /^meshgate-latency +1 process, core 0 +FAILED: meshgate exited with code 3/m);
    assert.match(r.stdout, /^meshgate-mtls +1 process, core 0 +FAILED: meshgate-mtls exited with code 3 before 200 on admin \/ready$/m);
    assert.match(r.stderr, /meshgate, meshgate-latency, meshgate-mtls failed; exit code 1/);
    assert.deepEqual(fs.readdirSync(tmp), ['meshgate-stand-in.mjs']);
    const left = spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' });
    assert.equal(left.stdout.trim(), '', `processes left: ${left.stdout}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
