/** CPU seconds per thread of a process (Linux /proc), keyed by "tid name". */
import { readFileSync, readdirSync } from 'node:fs';

export function threadCpu(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // The main thread has the process's id; the others are mostly called "node" too.
      out[`${tid} ${tid === String(pid) ? 'main' : name}`] = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** Per thread name, CPU seconds spent between two threadCpu() samples. */
export function threadDelta(a, b) {
  const byName = {};
  for (const [k, v] of Object.entries(b)) {
    const name = k.slice(k.indexOf(' ') + 1);
    byName[name] = (byName[name] ?? 0) + v - (a[k] ?? 0);
  }
  return byName;
}
