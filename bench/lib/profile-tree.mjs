/**
 * Inclusive time per function in a .cpuprofile (every sample with the
 * function anywhere on its stack), as a share of the non-idle samples
 * outside syscalls that block (writev: see NOTES.md), for a list of names.
 */
import { readFileSync } from 'node:fs';

export function inclusive(file, names, exclude = ['(idle)', 'writev']) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  let base = 0;
  const inc = Object.fromEntries(names.map((n) => [n, 0]));
  for (const [id, c] of counts) {
    if (exclude.includes(byId.get(id).callFrame.functionName)) continue;
    base += c;
    const seen = new Set();
    for (let q = id; q !== undefined; q = parent.get(q)) {
      const f = byId.get(q).callFrame;
      const key = names.find((n) => n === f.functionName || n === `${f.functionName}@${(f.url || '').split('/').pop()}`);
      if (key && !seen.has(key)) {
        seen.add(key);
        inc[key] += c;
      }
    }
  }
  return { base, shares: Object.fromEntries(Object.entries(inc).map(([k, v]) => [k, v / base])) };
}
