// loadConfig: environment → typed, frozen config. A bad value must stop the
// process with a message naming the variable (spec section 0).
import { availableParallelism } from 'node:os';
import { describe, it, expect } from 'vitest';
import { loadConfig, ConfigError } from '../src/config.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  const c = loadConfig({});

  it('matches the table in the spec', () => {
    expect(c.port).toBe(8080);
    expect(c.host).toBe('0.0.0.0');
    expect(c.db).toEqual({ kind: 'sqlite', path: 'data/switchboard.db' });
    expect(c.simProvisionMs).toBe(1500);
    expect(c.simFailureRate).toBe(0);
    expect(c.drainMs).toBe(30_000);
    expect(c.logLevel).toBe('info');
    expect(c.insecureWebhooks).toBe(false);
    expect(c.publicUrl).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
    expect(c.twilioAuthToken).toBeUndefined();
    expect(c.webhookSecret).toBeUndefined();
  });

  it('reads only the variables it knows, not the rest of the environment', () => {
    // A stray variable (or the real process.env) must not break or change anything.
    expect(loadConfig({ PATH: '/bin', NODE_ENV: 'test', port: '1' })).toEqual(c);
  });
});

describe('loadConfig parses good values', () => {
  it('turns strings into numbers and flags', () => {
    const c = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      SWITCHBOARD_DB: ':memory:',
      SIM_PROVISION_MS: '10',
      SIM_FAILURE_RATE: '0.25',
      SWITCHBOARD_DRAIN_MS: '500',
      LOG_LEVEL: 'silent',
      SWITCHBOARD_INSECURE_WEBHOOKS: '1',
    });
    expect(c).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      db: { kind: 'sqlite', path: ':memory:' },
      simProvisionMs: 10,
      simFailureRate: 0.25,
      drainMs: 500,
      logLevel: 'silent',
      insecureWebhooks: true,
    });
  });

  it.each([
    ['0', false],
    ['1', true],
    ['false', false],
    ['true', true],
  ])('SWITCHBOARD_INSECURE_WEBHOOKS=%s → %s', (v, want) => {
    expect(loadConfig({ SWITCHBOARD_INSECURE_WEBHOOKS: v }).insecureWebhooks).toBe(want);
  });

  it.each([
    ['65535', 65535],
    ['1', 1],
  ])('PORT=%s is accepted', (v, want) => {
    expect(loadConfig({ PORT: v }).port).toBe(want);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    ['1.0', 1],
    ['0.5', 0.5],
  ])('SIM_FAILURE_RATE=%s → %s', (v, want) => {
    expect(loadConfig({ SIM_FAILURE_RATE: v }).simFailureRate).toBe(want);
  });
});

describe('loadConfig rejects bad values, naming the variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['SIM_FAILURE_RATE', '2'],
    ['SIM_FAILURE_RATE', 'abc'],
    ['SIM_FAILURE_RATE', '-0.1'],
    ['SIM_PROVISION_MS', 'soon'],
    ['SWITCHBOARD_DRAIN_MS', '1e3'],
    ['LOG_LEVEL', 'loud'],
    ['SWITCHBOARD_PUBLIC_URL', 'ftp://x'],
    ['SWITCHBOARD_PUBLIC_URL', 'https://x/?a=1'],
    ['SWITCHBOARD_PUBLIC_URL', 'https://x/#frag'],
    ['SWITCHBOARD_PUBLIC_URL', 'not a url'],
    ['SWITCHBOARD_INSECURE_WEBHOOKS', 'yes'],
    ['SWITCHBOARD_WORKERS', '0'],
    ['SWITCHBOARD_WORKERS', '65'],
    ['SWITCHBOARD_WORKERS', '2.5'],
    ['SWITCHBOARD_WORKERS', 'all'],
  ])('%s=%s', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message).toContain(name);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(new RegExp(`^${name}=`));
    // The offending value is quoted so an operator sees what was read.
    expect(err.problems[0]).toContain(JSON.stringify(value));
  });

  it('reports every bad variable at once, not only the first', () => {
    const err = configError({ PORT: 'abc', LOG_LEVEL: 'loud', SIM_FAILURE_RATE: '2' });
    expect(err.problems).toHaveLength(3);
    for (const name of ['PORT', 'LOG_LEVEL', 'SIM_FAILURE_RATE']) expect(err.message).toContain(name);
  });

  it.each([
    ['SWITCHBOARD_ADMIN_TOKEN', 'sb_real_tok_123'],
    ['SWITCHBOARD_SECRET', 'almost-long-enough-secret'],
    ['SWITCHBOARD_WEBHOOK_SECRET', 'whsec_0123456'],
  ])('%s: a rejected secret is named but never printed', (name, value) => {
    // main.ts writes this message to stderr; the spec says tokens are never logged.
    const err = configError({ [name]: value });
    expect(err.message).toContain(name);
    expect(err.message).not.toContain(value);
    expect(err.message).toContain(`${value.length} characters`);
  });
});

describe('SWITCHBOARD_WORKERS', () => {
  it('is 1 by default (no cluster), a whole number up to 64, or auto: one per CPU', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ SWITCHBOARD_WORKERS: '1' }).workers).toBe(1);
    expect(loadConfig({ SWITCHBOARD_WORKERS: ' 4 ' }).workers).toBe(4);
    expect(loadConfig({ SWITCHBOARD_WORKERS: '64' }).workers).toBe(64);
    expect(loadConfig({ SWITCHBOARD_WORKERS: 'auto' }).workers).toBe(Math.min(availableParallelism(), 64));
  });

  it('refuses several workers on an in-memory database (each would have its own)', () => {
    const err = configError({ SWITCHBOARD_WORKERS: '2', SWITCHBOARD_DB: ':memory:' });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/SWITCHBOARD_WORKERS=2 .*:memory:/);
    expect(loadConfig({ SWITCHBOARD_WORKERS: '1', SWITCHBOARD_DB: ':memory:' }).workers).toBe(1);
  });
});

describe('TELNYX_API_KEY', () => {
  it('without TELNYX_CONNECTION_ID stops the start: numbers bought would never ring here', () => {
    const err = configError({ TELNYX_API_KEY: 'KEY_0123456789abcdef' });
    expect(err.message).toMatch(/TELNYX_CONNECTION_ID/);
    expect(loadConfig({ TELNYX_API_KEY: 'KEY_0123456789abcdef', TELNYX_CONNECTION_ID: '123' }).providers.telnyx).toMatchObject({ connectionId: '123' });
  });
});

describe('TELNYX_PUBLIC_KEY', () => {
  // The identity point: a key of small order, which would verify forged signatures.
  const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64');
  it.each([
    ['not base64', 'not a key!'],
    ['31 bytes', Buffer.alloc(31, 7).toString('base64')],
    ['33 bytes', Buffer.alloc(33, 7).toString('base64')],
    ['the identity point (small order)', identity],
    ['all zeros (small order)', Buffer.alloc(32).toString('base64')],
  ])('%s: refused, naming the variable', (_what, value) => {
    const err = configError({ TELNYX_PUBLIC_KEY: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(/^TELNYX_PUBLIC_KEY=/);
    expect(err.problems[0]).toMatch(/Ed25519/);
  });

  it('a real key is parsed once, into a KeyObject', async () => {
    const { TELNYX_PUBLIC_KEY: key } = await import('./helpers/carrier.js');
    const c = loadConfig({ TELNYX_PUBLIC_KEY: key });
    expect(c.telnyxPublicKey?.asymmetricKeyType).toBe('ed25519');
  });
});

describe('SWITCHBOARD_PUBLIC_URL', () => {
  it.each([
    ['https://gw.example.com/', 'https://gw.example.com'],
    ['https://gw.example.com//', 'https://gw.example.com'],
    ['http://localhost:8080/', 'http://localhost:8080'],
    ['https://gw.example.com/base/', 'https://gw.example.com/base'],
    ['https://gw.example.com', 'https://gw.example.com'],
  ])('%s → %s (no trailing slash, so URL + path is what the carrier signed)', (v, want) => {
    expect(loadConfig({ SWITCHBOARD_PUBLIC_URL: v }).publicUrl).toBe(want);
  });
});

describe('empty strings count as unset', () => {
  it.each([
    ['PORT', 'port', 8080],
    ['HOST', 'host', '0.0.0.0'],
    ['SIM_PROVISION_MS', 'simProvisionMs', 1500],
    ['SIM_FAILURE_RATE', 'simFailureRate', 0],
    ['SWITCHBOARD_DRAIN_MS', 'drainMs', 30_000],
    ['LOG_LEVEL', 'logLevel', 'info'],
    ['SWITCHBOARD_INSECURE_WEBHOOKS', 'insecureWebhooks', false],
    ['SWITCHBOARD_PUBLIC_URL', 'publicUrl', undefined],
    ['SWITCHBOARD_ADMIN_TOKEN', 'adminToken', undefined],
    ['TWILIO_AUTH_TOKEN', 'twilioAuthToken', undefined],
  ] as const)('%s=""', (name, key, want) => {
    expect(loadConfig({ [name]: '' })[key]).toBe(want);
  });
});

describe('the returned config', () => {
  it('is frozen', () => {
    const c = loadConfig({ PORT: '9000' });
    expect(Object.isFrozen(c)).toBe(true);
    // ES modules are strict mode: writing to a frozen object throws.
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(c.port).toBe(9000);
  });
});
