#!/usr/bin/env node
// bench/cpuprofile-top.mjs: the functions that cost most in a `node --cpu-prof` profile.
//
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--by self|total] [--from S] [--to S]
//                                 [--min-busy P]
//
// Self time: samples whose top frame is the function. Total time: samples with the function
// anywhere on the stack (counted once per sample, so recursion does not inflate it). Percentages
// are of the busy samples ((idle) and (program) excluded; (garbage collector) is kept), within
// the window --from..--to seconds after the profile started (to leave out start-up), and only in
// the seconds where the process was busy at least P% of the time (--min-busy: under load, not
// between runs). Functions
// are keyed by name and location, so two closures of the same code count together.

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    by: { type: 'string', default: 'self' },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
    'min-busy': { type: 'string', default: '0' },
  },
});
if (positionals.length !== 1) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top N] [--by self|total] [--from S] [--to S]');
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(positionals[0], 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const where = (cf) => {
  if (!cf.url) return '';
  const u = cf.url.replace(/^file:\/\//, '');
  const short = u.includes('/node_modules/') ? u.slice(u.lastIndexOf('/node_modules/') + 14) : u.includes('/dist/') ? u.slice(u.indexOf('/dist/') + 1) : path.basename(u);
  return `${short}:${cf.lineNumber + 1}`;
};
const keyOf = (n) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame)}`.trim();

// Busy share of each second, for --min-busy.
const busyBySecond = new Map();
{
  let tt = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    tt += prof.timeDeltas[i] ?? 0;
    const s = Math.floor((tt - prof.startTime) / 1e6);
    const name = byId.get(prof.samples[i]).callFrame.functionName;
    const e = busyBySecond.get(s) ?? { busy: 0, all: 0 };
    e.all++;
    if (name !== '(idle)' && name !== '(program)') e.busy++;
    busyBySecond.set(s, e);
  }
}
const minBusy = Number(values['min-busy']) / 100;
const busyEnough = (t) => {
  const e = busyBySecond.get(Math.floor((t - prof.startTime) / 1e6));
  return !e || e.busy >= minBusy * e.all;
};

const self = new Map();
const total = new Map();
let busy = 0;
let idle = 0;
let t = prof.startTime;
const from = prof.startTime + Number(values.from) * 1e6;
const to = prof.startTime + Number(values.to) * 1e6;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i] ?? 0;
  if (t < from || t > to || !busyEnough(t)) continue;
  // Each sample stands for the time until the next one.
  const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
  const leaf = byId.get(prof.samples[i]);
  const name = leaf.callFrame.functionName;
  if (name === '(idle)' || name === '(program)') {
    idle += dt;
    continue;
  }
  busy += dt;
  const k = keyOf(leaf);
  self.set(k, (self.get(k) ?? 0) + dt);
  const seen = new Set();
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
    const n = byId.get(id);
    if (n.callFrame.functionName === '(root)') break;
    const kk = keyOf(n);
    if (seen.has(kk)) continue;
    seen.add(kk);
    total.set(kk, (total.get(kk) ?? 0) + dt);
  }
}

const by = values.by === 'total' ? total : self;
const rows = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
console.log(`busy ${busy.toFixed(0)} ms, idle/program ${idle.toFixed(0)} ms; top ${rows.length} by ${values.by} time (% of busy)`);
console.log('  self%  total%  function');
for (const [k] of rows) {
  const s = ((100 * (self.get(k) ?? 0)) / busy).toFixed(1).padStart(5);
  const tt = ((100 * (total.get(k) ?? 0)) / busy).toFixed(1).padStart(6);
  console.log(`  ${s}  ${tt}  ${k}`);
}
