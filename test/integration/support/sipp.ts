/**
 * SIPp (Debian's `sip-tester`; .ci/run installs it) as the caller: runs one
 * scenario from examples/kamailio/sipp/ against a SIP server on 127.0.0.1
 * and collects what it logged. The scenarios check the answer themselves
 * (the expected status, the headers that must be there), so SIPp's exit code
 * says whether every call got it; their <log> lines carry the captured
 * header values for the test to compare.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from './kamailio.js';

export const SIPP_BIN = process.env.SWITCHBOARD_TEST_SIPP ?? '/usr/bin/sipp';
export const SCENARIOS = fileURLToPath(new URL('../../../examples/kamailio/sipp/', import.meta.url));

export type Scenario = 'invite-302.xml' | 'invite-404.xml' | 'invite-500.xml' | 'invite-503.xml';

export interface SippOptions {
  /** host:port of the SIP server. */
  target: string;
  scenario: Scenario;
  /** The Request-URI user: the dialled number. */
  service: string;
  /** Default 1. */
  calls?: number;
  /** Calls per second; default 10. */
  rate?: number;
  /**
   * The Call-ID of every call: SIPp's -cid_str, %u = call number. Default: a
   * prefix unique to this run, so that no two runs share a Call-ID (the
   * gateway answers a repeated carrier call id as a retry of the first).
   */
  callId?: string;
  /** SIPp gives up (and fails) after this long; default 30 s. */
  timeoutS?: number;
}

export interface SippRun {
  /** 0: every call succeeded; 1: at least one failed; others: SIPp could not run. */
  code: number | null;
  /** The scenario's <log> lines, one per call. */
  logs: string[];
  /** -trace_msg: every message sent and received. */
  messages: string;
  /** -trace_err: unexpected messages. */
  errors: string;
  stdout: string;
  stderr: string;
  ms: number;
  /** Everything above, for assertion messages. */
  report(): string;
}

export async function runSipp(o: SippOptions): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sipp-'));
  const file = (n: string) => join(dir, n);
  const read = (n: string) => (existsSync(file(n)) ? readFileSync(file(n), 'utf8') : '');
  const calls = o.calls ?? 1;
  const args = [
    o.target,
    '-sf',
    join(SCENARIOS, o.scenario),
    '-s',
    o.service,
    '-m',
    String(calls),
    '-r',
    String(o.rate ?? 10),
    '-i',
    '127.0.0.1',
    '-p',
    String(await freeUdpPort()),
    '-cid_str',
    o.callId ?? `sb-${randomBytes(6).toString('hex')}-%u@127.0.0.1`,
    '-nostdin',
    '-timeout',
    `${o.timeoutS ?? 30}s`,
    '-timeout_error',
    '-recv_timeout',
    '10000',
    '-trace_logs',
    '-log_file',
    file('logs.log'),
    '-trace_msg',
    '-message_file',
    file('messages.log'),
    '-trace_err',
    '-error_file',
    file('errors.log'),
  ];
  const started = performance.now();
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      p.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      p.once('error', (e) => reject(new Error(`cannot run ${SIPP_BIN}: ${e.message} (apt-get install -y sip-tester)`)));
      p.once('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    const ms = Math.round(performance.now() - started);
    const logs = read('logs.log')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const messages = read('messages.log');
    const errors = read('errors.log');
    return {
      code,
      logs,
      messages,
      errors,
      stdout,
      stderr,
      ms,
      report: () =>
        `sipp ${args.join(' ')}\nexit ${code} after ${ms} ms\n--- logs\n${logs.join('\n')}\n--- errors\n${errors}\n--- stderr\n${stderr}\n--- last messages\n${messages.slice(-3000)}`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
