/**
 * Kamailio (Debian's 5.6 packages; .ci/run installs them) running the
 * example config examples/kamailio/kamailio.cfg, for the integration tier.
 * Each instance listens on its own UDP port on 127.0.0.1, stays in the
 * foreground (-DD) and logs to stderr (-E), in its own process group so that
 * stop() can end the main process and every worker it forked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KAMAILIO_CFG = fileURLToPath(new URL('../../../examples/kamailio/kamailio.cfg', import.meta.url));
export const KAMAILIO_BIN = process.env.SWITCHBOARD_TEST_KAMAILIO ?? '/usr/sbin/kamailio';

/** A UDP port nothing is bound to at the moment, on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

/**
 * Sends one SIP OPTIONS over UDP and resolves with the status line of the
 * answer (null if none came within timeoutMs). The example config answers
 * OPTIONS with 200, as upstream proxies' health checks expect.
 */
export async function sipOptions(port: number, timeoutMs = 500): Promise<string | null> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const local = s.address().port;
  const branch = 'z9hG4bK' + randomBytes(8).toString('hex');
  const msg = [
    `OPTIONS sip:ping@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch};rport`,
    `From: <sip:probe@127.0.0.1:${local}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:ping@127.0.0.1:${port}>`,
    `Call-ID: probe-${randomBytes(8).toString('hex')}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  try {
    return await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      s.on('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString('utf8').split('\r\n')[0]!);
      });
      s.send(msg, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

export interface KamailioOptions {
  /** e.g. http://127.0.0.1:8080 (SWITCHBOARD_URL). */
  gatewayUrl: string;
  /** SWITCHBOARD_WEBHOOK_SECRET in Kamailio's environment; null leaves it unset. */
  secret: string | null;
  /** Default: a free UDP port. */
  port?: number;
  /** MEDIA_BRIDGE, the host in the Contact of a 302. */
  mediaBridge?: string;
  /** Default 20 s. */
  startTimeoutMs?: number;
}

export interface Kamailio {
  port: number;
  /** host:port for SIPp. */
  target: string;
  child: ChildProcess;
  /** Kamailio's log (stderr) so far. */
  log(): string;
  /** SIGTERM to the whole process group, SIGKILL after 5 s; removes the runtime folder. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startKamailio(o: KamailioOptions): Promise<Kamailio> {
  const port = o.port ?? (await freeUdpPort());
  const runDir = mkdtempSync(join(tmpdir(), 'switchboard-kamailio-'));
  const args = [
    '-f',
    KAMAILIO_CFG,
    // Overrides of the config's settings, the way its header tells users to.
    '-A',
    `SIP_LISTEN=udp:127.0.0.1:${port}`,
    '-A',
    `SWITCHBOARD_URL="${o.gatewayUrl}"`,
    ...(o.mediaBridge ? ['-A', `MEDIA_BRIDGE="${o.mediaBridge}"`] : []),
    '-DD', // foreground: no daemon, but the usual worker processes
    '-E', // log to stderr
    '-Y',
    runDir, // runtime folder of its own (not /run/kamailio)
    '-m',
    '64', // shared memory, MB
    '-M',
    '8', // per-process memory, MB
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SWITCHBOARD_WEBHOOK_SECRET;
  if (o.secret !== null) env.SWITCHBOARD_WEBHOOK_SECRET = o.secret;
  const child = spawn(KAMAILIO_BIN, args, { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const spawnFailed = new Promise<Error>((r) => child.once('error', r));

  let stopped = false;
  const k: Kamailio = {
    port,
    target: `127.0.0.1:${port}`,
    child,
    log: () => err,
    async stop() {
      if (stopped) return;
      stopped = true;
      const group = (signal: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      if (child.exitCode === null && child.signalCode === null) {
        group('SIGTERM');
        const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 5000))]);
        if (late) group('SIGKILL');
      }
      rmSync(runDir, { recursive: true, force: true });
    },
  };

  // Ready when it answers OPTIONS on its port.
  const end = Date.now() + (o.startTimeoutMs ?? 20_000);
  for (;;) {
    const failed = await Promise.race([spawnFailed, new Promise<null>((r) => setTimeout(() => r(null), 0))]);
    if (failed)
      throw new Error(
        `cannot start ${KAMAILIO_BIN}: ${failed.message} (apt-get install -y kamailio kamailio-utils-modules kamailio-extra-modules kamailio-tls-modules)`,
      );
    if (child.exitCode !== null || child.signalCode !== null) {
      await k.stop();
      throw new Error(`kamailio exited (${child.exitCode ?? child.signalCode}) before answering OPTIONS:\n${err}`);
    }
    const answer = await sipOptions(port, 200);
    if (answer === 'SIP/2.0 200 OK') return k;
    if (Date.now() > end) {
      await k.stop();
      throw new Error(`kamailio did not answer OPTIONS on 127.0.0.1:${port} (last answer: ${answer}):\n${err}`);
    }
  }
}
