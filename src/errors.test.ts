// Every error code thrown on purpose is documented in docs/errors.md, and every documented
// code still exists (fastify's test/internals/errors.test.js does the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

test('docs/errors.md lists exactly the error codes the source defines', () => {
  const inSource = new Set<string>();
  for (const f of sources(join(root, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/readonly code = '(GW_[A-Z_]+)'/g)) inSource.add(m[1]!);
  }
  const inDocs = new Set([...readFileSync(join(root, 'docs', 'errors.md'), 'utf8').matchAll(/^\| `(GW_[A-Z_]+)` \|/gm)].map((m) => m[1]!));
  assert.ok(inSource.size > 0);
  assert.deepEqual([...inSource].sort(), [...inDocs].sort());
});
