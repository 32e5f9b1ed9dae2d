/**
 * Configuration: environment variables parsed and validated once, at start.
 * Nothing else in the codebase reads process.env. A bad value stops the
 * process with a message naming the variable (see main.ts).
 */
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseTelnyxPublicKey } from './carriers/telnyx/signature.js';
import { parseNetworks, type Network } from './media/address-policy.js';
import { PROVIDER_NAMES, type ProviderName } from './providers/provider.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const intString = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`);

const flag = z.enum(['0', '1', 'true', 'false'], { message: 'must be 0 or 1' }).transform((v) => v === '1' || v === 'true');

const secret = (minLength: number) => z.string().min(minLength, `must be at least ${minLength} characters`);

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));

const publicUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL with no query string, e.g. https://gw.example.com')
  // One canonical form with no trailing slash, so "URL + path" is exactly what
  // the carrier signed (a trailing-slash mismatch is a classic signature bug).
  .transform((v) => v.replace(/\/+$/, ''));

/** The most worker processes SWITCHBOARD_WORKERS may ask for. */
export const MAX_WORKERS = 64;

const schema = z.object({
  PORT: intString(0, 65535).default(8080),
  // 'auto' is kept as given here; loadConfig resolves it to this machine's CPUs.
  SWITCHBOARD_WORKERS: z
    .string()
    .trim()
    .refine(
      (v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_WORKERS),
      `must be a whole number from 1 to ${MAX_WORKERS}, or auto (one per CPU)`,
    )
    .default('1'),
  HOST: z.string().min(1).default('0.0.0.0'),
  SWITCHBOARD_DB: z
    .string()
    .min(1)
    .refine((v) => {
      if (!/^postgres(ql)?:\/\//i.test(v)) return !/^[a-z][a-z0-9+.-]*:\/\//i.test(v); // a path, not some other URL
      try {
        return new URL(v).hostname.length > 0;
      } catch {
        return false;
      }
    }, 'must be a SQLite file path, ":memory:", or a postgres://user:password@host:port/database URL')
    .default('data/switchboard.db'),
  SWITCHBOARD_INVALIDATION_TIMEOUT_MS: intString(100, 60_000).default(2000),
  SWITCHBOARD_ADMIN_TOKEN: secret(16).optional(),
  SWITCHBOARD_PUBLIC_URL: publicUrl.optional(),
  SWITCHBOARD_SECRET: secret(32).optional(),
  TWILIO_AUTH_TOKEN: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .trim()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be AC followed by 32 hex digits (the Account SID in the Twilio console)')
    .optional(),
  TWILIO_API_URL: httpUrl.optional(),
  TELNYX_API_KEY: z.string().trim().min(8, 'must be the API key from the Telnyx portal').optional(),
  // Parsed here, so a bad key stops the start: a placeholder of small order
  // would otherwise accept forged signatures (carriers/telnyx/signature.ts).
  TELNYX_PUBLIC_KEY: z
    .string()
    .transform((v, ctx) => {
      try {
        return { text: v.trim(), key: parseTelnyxPublicKey(v) };
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^TELNYX_PUBLIC_KEY /, '') });
        return z.NEVER;
      }
    })
    .optional(),
  TELNYX_CONNECTION_ID: z.string().trim().min(1).optional(),
  TELNYX_API_URL: httpUrl.optional(),
  SWITCHBOARD_PROVIDERS: z
    .string()
    .transform((v) => [...new Set(v.split(/[\s,]+/).filter(Boolean))])
    .refine(
      (list) => list.length > 0 && list.every((p) => (PROVIDER_NAMES as readonly string[]).includes(p)),
      `must list providers from ${PROVIDER_NAMES.join(', ')}, e.g. "twilio,telnyx"`,
    )
    .optional(),
  SWITCHBOARD_DEFAULT_PROVIDER: z
    .enum(PROVIDER_NAMES as readonly [ProviderName, ...ProviderName[]], { message: `must be one of ${PROVIDER_NAMES.join(', ')}` })
    .optional(),
  SWITCHBOARD_RECONCILE_MS: intString(10_000, 86_400_000).default(600_000),
  SWITCHBOARD_WEBHOOK_SECRET: secret(16).optional(),
  SWITCHBOARD_INSECURE_WEBHOOKS: flag.default(false),
  SIM_PROVISION_MS: intString(0, 3_600_000).default(1500),
  SIM_FAILURE_RATE: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
    .transform(Number)
    .default(0),
  SWITCHBOARD_PROVISION_TIMEOUT_MS: intString(1000, 3_600_000).default(60_000),
  SWITCHBOARD_SWEEP_MS: intString(50, 3_600_000).default(1000),
  SWITCHBOARD_DRAIN_MS: intString(0, 3_600_000).default(30_000),
  SWITCHBOARD_ROUTING_CACHE_SIZE: intString(1, 10_000_000).default(100_000),
  SWITCHBOARD_API_RATE: intString(1, 1_000_000).default(50),
  SWITCHBOARD_API_BURST: intString(1, 1_000_000).default(100),
  SWITCHBOARD_AUTH_FAILURE_LIMIT: intString(1, 1_000_000).default(30),
  SWITCHBOARD_TEAM_API_RATE: intString(1, 1_000_000).optional(),
  SWITCHBOARD_TEAM_API_BURST: intString(1, 1_000_000).optional(),
  SWITCHBOARD_MAX_CONNECTIONS_PER_IP: intString(0, 10_000_000).optional(),
  SWITCHBOARD_HEADERS_TIMEOUT_MS: intString(1000, 600_000).default(10_000),
  SWITCHBOARD_REQUEST_TIMEOUT_MS: intString(1000, 600_000).default(15_000),
  SWITCHBOARD_MEDIA_TOKEN_TTL_S: intString(5, 86_400).default(60),
  SWITCHBOARD_MEDIA_SPLICE: flag.default(true),
  SWITCHBOARD_MEDIA_ALLOWED_NETWORKS: z
    .string()
    .transform((v, ctx) => {
      const r = parseNetworks(v);
      if (typeof r === 'string') {
        ctx.addIssue({ code: 'custom', message: r });
        return z.NEVER;
      }
      return r;
    })
    .optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

const SECRET_VARS = new Set(['SWITCHBOARD_ADMIN_TOKEN', 'SWITCHBOARD_SECRET', 'TWILIO_AUTH_TOKEN', 'SWITCHBOARD_WEBHOOK_SECRET', 'TELNYX_API_KEY']);

/** Where the data lives: a SQLite file (or ':memory:'), or a PostgreSQL server. */
export type DbTarget = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

/** The database target for logs and messages: a PostgreSQL password never appears. */
export function describeDb(db: DbTarget): string {
  if (db.kind === 'sqlite') return db.path;
  try {
    const u = new URL(db.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** The number providers configured, from the variables that enable them. */
export interface ProvidersConfig {
  readonly twilio: { readonly accountSid: string; readonly authToken: string; readonly apiUrl: string | undefined } | null;
  readonly telnyx: {
    readonly apiKey: string;
    readonly apiUrl: string | undefined;
    readonly connectionId: string | undefined;
    readonly publicKey: string | undefined;
  } | null;
  /** Offered for new purchases (SWITCHBOARD_PROVIDERS; default every configured real provider, else sim). */
  readonly offered: readonly ProviderName[];
  readonly defaultName: ProviderName;
  /** How often provider accounts are compared with the database. */
  readonly reconcileMs: number;
}

export interface Config {
  readonly port: number;
  /** Gateway processes (SWITCHBOARD_WORKERS, 'auto' resolved): 1 = no cluster, the process is the gateway. */
  readonly workers: number;
  readonly host: string;
  readonly db: DbTarget;
  readonly adminToken: string | undefined;
  /** Undefined until the port is known: see resolvePublicUrl. */
  readonly publicUrl: string | undefined;
  readonly secret: string | undefined;
  readonly twilioAuthToken: string | undefined;
  /** TELNYX_PUBLIC_KEY, checked to be a usable Ed25519 key: Telnyx voice webhooks are verified with it. */
  readonly telnyxPublicKey: KeyObject | undefined;
  readonly webhookSecret: string | undefined;
  readonly insecureWebhooks: boolean;
  readonly simProvisionMs: number;
  readonly simFailureRate: number;
  readonly provisionTimeoutMs: number;
  readonly sweepMs: number;
  readonly drainMs: number;
  readonly routingCacheSize: number;
  /** Requests per second per API token (sustained), and the burst above it. */
  readonly apiRate: number;
  readonly apiBurst: number;
  /** Failed authentications or carrier signatures per minute per source address before 429. */
  readonly authFailureLimit: number;
  /** Requests per second per team (all its tokens together), and the burst. */
  readonly teamApiRate: number;
  readonly teamApiBurst: number;
  /** Concurrent connections per source address (0 = no cap; undefined = a quarter of the open-files limit). */
  readonly maxConnectionsPerAddress: number | undefined;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** How long after routing a media token may open its stream (once). */
  readonly mediaTokenTtlS: number;
  /** Untranslated media relayed as raw frames once bridged (src/media/splice.ts); 0 keeps every frame on ws. */
  readonly mediaSplice: boolean;
  /** PostgreSQL: how long a routing write waits for every instance to drop the old entry. */
  readonly invalidationTimeoutMs: number;
  /** Where assistants may be: null = anywhere but link-local and cloud metadata. */
  readonly mediaAllowedNetworks: readonly Network[] | null;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly providers: ProvidersConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0]);
        // Secrets are never printed, not even a rejected one (it may be a real
        // token that is merely too short); the length is enough to act on.
        const raw = input[name] ?? '';
        // A database URL is shown with its password masked.
        const shown = SECRET_VARS.has(name)
          ? `<hidden, ${raw.length} characters>`
          : JSON.stringify(name === 'SWITCHBOARD_DB' ? raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@') : raw);
        return `${name}=${shown}: ${i.message}`;
      }),
    );
  }
  const c = parsed.data;
  const problems: string[] = [];
  const twilio =
    c.TWILIO_ACCOUNT_SID && c.TWILIO_AUTH_TOKEN ? { accountSid: c.TWILIO_ACCOUNT_SID, authToken: c.TWILIO_AUTH_TOKEN, apiUrl: c.TWILIO_API_URL } : null;
  if (c.TWILIO_ACCOUNT_SID && !c.TWILIO_AUTH_TOKEN) problems.push('TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not: the twilio provider needs both');
  if (c.TELNYX_API_KEY && !c.TELNYX_CONNECTION_ID) {
    problems.push(
      "TELNYX_API_KEY is set but TELNYX_CONNECTION_ID is not: numbers bought from Telnyx would not be attached to your TeXML application, so their calls would never reach this gateway; set it to the application's id (Telnyx portal → Voice → TeXML Applications)",
    );
  }
  const telnyx = c.TELNYX_API_KEY
    ? { apiKey: c.TELNYX_API_KEY, apiUrl: c.TELNYX_API_URL, connectionId: c.TELNYX_CONNECTION_ID, publicKey: c.TELNYX_PUBLIC_KEY?.text }
    : null;
  const configured: ProviderName[] = [...(twilio ? (['twilio'] as const) : []), ...(telnyx ? (['telnyx'] as const) : [])];
  const offered: ProviderName[] = c.SWITCHBOARD_PROVIDERS ? (c.SWITCHBOARD_PROVIDERS as ProviderName[]) : configured.length ? configured : ['sim'];
  for (const name of offered) {
    if (name === 'twilio' && !twilio) problems.push('SWITCHBOARD_PROVIDERS lists twilio, but TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not both set');
    if (name === 'telnyx' && !telnyx) problems.push('SWITCHBOARD_PROVIDERS lists telnyx, but TELNYX_API_KEY is not set');
  }
  const defaultName = c.SWITCHBOARD_DEFAULT_PROVIDER ?? offered[0]!;
  if (!offered.includes(defaultName))
    problems.push(`SWITCHBOARD_DEFAULT_PROVIDER=${defaultName} is not offered (SWITCHBOARD_PROVIDERS: ${offered.join(', ')})`);
  const workers = c.SWITCHBOARD_WORKERS === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : Number(c.SWITCHBOARD_WORKERS);
  if (workers > 1 && c.SWITCHBOARD_DB === ':memory:') {
    problems.push(
      `SWITCHBOARD_WORKERS=${c.SWITCHBOARD_WORKERS} needs a database the workers share: SWITCHBOARD_DB=":memory:" would give each worker its own; use a file or PostgreSQL`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    port: c.PORT,
    workers,
    host: c.HOST,
    db: (/^postgres(ql)?:\/\//i.test(c.SWITCHBOARD_DB)
      ? { kind: 'postgres', url: c.SWITCHBOARD_DB }
      : { kind: 'sqlite', path: c.SWITCHBOARD_DB }) satisfies DbTarget,
    invalidationTimeoutMs: c.SWITCHBOARD_INVALIDATION_TIMEOUT_MS,
    adminToken: c.SWITCHBOARD_ADMIN_TOKEN,
    publicUrl: c.SWITCHBOARD_PUBLIC_URL,
    secret: c.SWITCHBOARD_SECRET,
    twilioAuthToken: c.TWILIO_AUTH_TOKEN,
    telnyxPublicKey: c.TELNYX_PUBLIC_KEY?.key,
    webhookSecret: c.SWITCHBOARD_WEBHOOK_SECRET,
    insecureWebhooks: c.SWITCHBOARD_INSECURE_WEBHOOKS,
    simProvisionMs: c.SIM_PROVISION_MS,
    simFailureRate: c.SIM_FAILURE_RATE,
    provisionTimeoutMs: c.SWITCHBOARD_PROVISION_TIMEOUT_MS,
    sweepMs: c.SWITCHBOARD_SWEEP_MS,
    drainMs: c.SWITCHBOARD_DRAIN_MS,
    routingCacheSize: c.SWITCHBOARD_ROUTING_CACHE_SIZE,
    apiRate: c.SWITCHBOARD_API_RATE,
    apiBurst: c.SWITCHBOARD_API_BURST,
    authFailureLimit: c.SWITCHBOARD_AUTH_FAILURE_LIMIT,
    // A team's budget covers several tokens: twice one token's by default.
    teamApiRate: c.SWITCHBOARD_TEAM_API_RATE ?? c.SWITCHBOARD_API_RATE * 2,
    teamApiBurst: c.SWITCHBOARD_TEAM_API_BURST ?? c.SWITCHBOARD_API_BURST * 2,
    maxConnectionsPerAddress: c.SWITCHBOARD_MAX_CONNECTIONS_PER_IP,
    headersTimeoutMs: c.SWITCHBOARD_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: c.SWITCHBOARD_REQUEST_TIMEOUT_MS,
    mediaTokenTtlS: c.SWITCHBOARD_MEDIA_TOKEN_TTL_S,
    mediaSplice: c.SWITCHBOARD_MEDIA_SPLICE,
    mediaAllowedNetworks: c.SWITCHBOARD_MEDIA_ALLOWED_NETWORKS ?? null,
    logLevel: c.LOG_LEVEL,
    providers: Object.freeze({ twilio, telnyx, offered, defaultName, reconcileMs: c.SWITCHBOARD_RECONCILE_MS }),
  });
}
