// bench/loop-stalls.mjs: preload (`node --import ./bench/loop-stalls.mjs ...`) that prints, every
// second on stderr, what can make a request wait inside the process: the event loop's delay
// (p50/p99/max, ms), GC pauses (count, total, longest), the CPU of the main thread and of the
// process's other threads (V8's compiler and GC helpers, libuv's pool: on a pinned core they take
// turns with the main thread), and the main thread's involuntary context switches.
// Linux only (reads /proc/self/task). For performance work; not loaded by meshgate itself.
import fs from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const every = Number(process.env.LOOP_STALLS_MS || 1000);
const eld = monitorEventLoopDelay({ resolution: 2 });
eld.enable();
let gc = { n: 0, total: 0, max: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.n++;
    gc.total += e.duration;
    if (e.duration > gc.max) gc.max = e.duration;
  }
}).observe({ entryTypes: ['gc'] });

const TICK_MS = 10; // USER_HZ 100
const threads = () => {
  let main = 0;
  let others = 0;
  let nvcsw = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const st = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(f[11]) + Number(f[12])) * TICK_MS;
      if (Number(tid) === process.pid) {
        main = cpu;
        const m = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8').match(/nonvoluntary_ctxt_switches:\s+(\d+)/);
        nvcsw = m ? Number(m[1]) : 0;
      } else others += cpu;
    } catch {
      // the thread ended
    }
  }
  return { main, others, nvcsw };
};

let last = threads();
let t0 = Date.now();
setInterval(() => {
  const now = threads();
  const ms = Date.now() - t0;
  const pct = (x) => ((100 * x) / ms).toFixed(0).padStart(3);
  process.stderr.write(
    `[stalls] loop p50 ${(eld.percentile(50) / 1e6).toFixed(1)} p99 ${(eld.percentile(99) / 1e6).toFixed(1)} max ${(eld.max / 1e6).toFixed(1)} ms` +
      ` | gc ${gc.n} ${gc.total.toFixed(1)} ms, longest ${gc.max.toFixed(1)} ms` +
      ` | cpu main ${pct(now.main - last.main)}% others ${pct(now.others - last.others)}% | nvcsw ${now.nvcsw - last.nvcsw}\n`,
  );
  eld.reset();
  gc = { n: 0, total: 0, max: 0 };
  last = now;
  t0 = Date.now();
}, every).unref();
