/**
 * Bookkeeping for the raw-socket fuzz test: per-category tallies, findings
 * with the exact request bytes that caused them (JSON-escaped, so NUL, CR,
 * LF and high bytes are visible and can be pasted back into a reproducer),
 * and the printed summary.
 */
import type { RawCase, RawResult } from './raw-socket.js';

export type FindingKind = 'exit' | '5xx' | 'hung' | 'healthz' | 'relay';

export interface Finding {
  kind: FindingKind;
  detail: string;
  caseId?: number;
  category?: string;
  note?: string;
  /** The bytes sent, JSON-escaped (long runs abbreviated). */
  request?: string;
}

export interface Tally {
  cases: number;
  requests: number;
  statuses: Record<string, number>;
  /** Closed by the server without any answer (acceptable). */
  closedSilently: number;
  upgraded: number;
  hung: number;
  unanswered: number;
  aborted: number;
}

/** The bytes as a JSON string; runs of 64+ identical bytes are shown as `<N × "c">` so 80 KiB cases stay readable. */
export function escapeBytes(chunks: Buffer[], max = 1500): string {
  const s = Buffer.concat(chunks).toString('latin1');
  const squeezed = s.replace(/(.)\1{63,}/gs, (run, c: string) => `<${run.length} × ${JSON.stringify(c)}>`);
  const json = JSON.stringify(squeezed);
  return json.length > max ? `${json.slice(0, max)}… (${s.length} bytes in all)` : json;
}

export class FuzzReport {
  readonly tallies = new Map<string, Tally>();
  readonly findings: Finding[] = [];
  readonly durations: number[] = [];
  /**
   * Oddities reported but not failed: error answers that are not JSON (not the
   * gateway's error catalogue; Node's own 400/431 have no body and are not
   * counted, ws answers refused handshakes in HTML, an HTML 404 means express's
   * fallback answered before the gateway's handlers ran), and HTTP responses
   * that arrived after a 101.
   */
  readonly offCatalogue = new Map<string, { count: number; example: string }>();

  record(c: RawCase, r: RawResult): void {
    let t = this.tallies.get(c.category);
    if (!t) this.tallies.set(c.category, (t = { cases: 0, requests: 0, statuses: {}, closedSilently: 0, upgraded: 0, hung: 0, unanswered: 0, aborted: 0 }));
    t.cases++;
    t.requests += Math.max(1, c.methods.length);
    for (const res of r.responses) t.statuses[res.status] = (t.statuses[res.status] ?? 0) + 1;
    if (r.responses.length === 0 && r.closedByServer) t.closedSilently++;
    if (r.upgraded) t.upgraded++;
    if (r.hung) t.hung++;
    t.unanswered += r.unanswered;
    if (c.finish === 'destroy' || c.finish === 'reset') t.aborted++;
    this.durations.push(r.ms);

    if (r.httpAfterUpgrade) this.note('HTTP response after the 101 (written into the WebSocket stream)', c);
    for (const res of r.responses) {
      const type = /\r\ncontent-type:[ \t]*([^;\r]*)/i.exec(res.head)?.[1];
      if (res.status < 400 || type === undefined || type === 'application/json') continue;
      this.note(`${res.status} ${type}`, c);
    }
    // The test never drains, so every 5xx is a bug (a 503 would only be right while draining).
    for (const res of r.responses.filter((x) => x.status >= 500)) {
      this.add({ kind: '5xx', detail: res.head.split('\r\n').slice(0, 12).join(' | ').slice(0, 600) }, c);
    }
    if (r.hung) {
      const got = r.responses.map((x) => x.status).join(', ') || 'none';
      this.add(
        {
          kind: 'hung',
          detail: `still open ${r.ms} ms after the request, half-closed by the client; answers: ${got}; server FIN: ${r.serverEnded}\nreceived: ${escapeBytes([r.received], 1200)}`,
        },
        c,
      );
    }
  }

  /** Counts an informational observation, keeping the first example. */
  private note(key: string, c: RawCase): void {
    const o = this.offCatalogue.get(key);
    if (o) o.count++;
    else this.offCatalogue.set(key, { count: 1, example: `case #${c.id} [${c.category}] ${escapeBytes(c.chunks, 300)}` });
  }

  add(f: Finding, c?: RawCase): void {
    this.findings.push(c ? { ...f, caseId: c.id, category: c.category, note: c.note, request: escapeBytes(c.chunks) } : f);
  }

  get totals(): { cases: number; requests: number } {
    let cases = 0;
    let requests = 0;
    for (const t of this.tallies.values()) {
      cases += t.cases;
      requests += t.requests;
    }
    return { cases, requests };
  }

  summary(): string {
    const rows = [...this.tallies.entries()].map(([k, t]) => {
      const statuses = Object.entries(t.statuses)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      return `  ${k.padEnd(13)} cases=${String(t.cases).padStart(5)} requests=${String(t.requests).padStart(5)} silent-close=${t.closedSilently} upgraded=${t.upgraded} aborted=${t.aborted} unanswered=${t.unanswered} hung=${t.hung}  ${statuses}`;
    });
    const d = [...this.durations].sort((a, b) => a - b);
    const pct = (q: number) => d[Math.min(d.length - 1, Math.floor(q * d.length))] ?? 0;
    const { cases, requests } = this.totals;
    const odd = [...this.offCatalogue].map(([k, o]) => `  ${k} ×${o.count}, e.g. ${o.example}`);
    return [
      `${cases} connections, ${requests} requests; socket time p50=${pct(0.5)} ms p99=${pct(0.99)} ms max=${pct(1)} ms`,
      ...rows,
      ...(odd.length ? ['informational (not failures): non-JSON error answers by status and type, and HTTP after a 101:', ...odd] : []),
    ].join('\n');
  }

  /** Findings grouped by kind and the first line of their detail; a few examples of each. */
  describeFindings(perGroup = 5): string {
    const groups = new Map<string, Finding[]>();
    for (const f of this.findings) {
      // Crashes group by the frame that threw, everything else by the first line.
      const frame = f.kind === 'exit' ? (/^\s+at .*$/m.exec(f.detail)?.[0].trim() ?? '') : '';
      const key = `${f.kind}: ${f.detail
        .split('\n')[0]!
        .replace(/[0-9a-f-]{36}/g, '<uuid>')
        .slice(0, 160)} ${frame}`.trim();
      groups.set(key, [...(groups.get(key) ?? []), f]);
    }
    const out: string[] = [];
    for (const [key, fs] of groups) {
      out.push(`- ${key} (${fs.length}×)`);
      // The detail (a stack, what was received) once per group; then each example's request.
      if (fs[0]!.detail.includes('\n'))
        out.push(
          fs[0]!.detail
            .split('\n')
            .map((l) => `      ${l}`)
            .join('\n'),
        );
      for (const f of fs.slice(0, perGroup)) {
        if (f.caseId !== undefined) out.push(`    case #${f.caseId} [${f.category}] ${f.note}\n      request: ${f.request}`);
      }
      if (fs.length > perGroup) out.push(`    … and ${fs.length - perGroup} more`);
    }
    return out.join('\n');
  }
}
