// Secret never shows its value except through reveal().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { format, inspect } from 'node:util';
import { Secret } from './secret.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

test('reveal() returns the value', () => {
  assert.equal(new Secret(KEY).reveal(), KEY);
});

test('JSON, strings, inspect and format all print [redacted]', () => {
  const s = new Secret(KEY);
  assert.equal(JSON.stringify({ key: s }), '{"key":"[redacted]"}');
  assert.equal(String(s), '[redacted]');
  assert.equal(`${s}`, '[redacted]');
  assert.equal(inspect(s), '[redacted]');
  assert.equal(inspect({ nested: { s } }), '{ nested: { s: [redacted] } }');
  assert.equal(format('%s %o %j', s, s, s), '[redacted] [redacted] "[redacted]"');
});

test('the value is not an enumerable property', () => {
  assert.deepEqual(Object.keys(new Secret(KEY)), []);
  assert.ok(!JSON.stringify(Object.getOwnPropertyDescriptors(new Secret(KEY))).includes('PRIVATE'));
});
