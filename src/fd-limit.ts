/**
 * The process's open-files limit. Node raises the soft RLIMIT_NOFILE to the
 * hard limit itself at start (node.cc, PlatformInit), so the soft limit read
 * here is already as high as the OS allows this process; only an operator can
 * raise the hard limit (`ulimit -Hn`, systemd LimitNOFILE, docker --ulimit).
 * Linux only (/proc); elsewhere null.
 */
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number;
}

export function openFilesLimit(): FdLimit | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line ? /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line) : null;
    if (!m) return null;
    const n = (v: string) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return null;
  }
}

/**
 * The default cap on one address's concurrent connections: a quarter of the
 * descriptors this process may open (256 at the common 1,024), so one client
 * can never take them all, and never fewer than 64.
 */
export function defaultConnectionsPerAddress(limit: FdLimit | null): number {
  if (!limit) return 256;
  return Math.max(64, Math.floor(limit.soft / 4));
}
