/**
 * The HTTP client the Twilio SDK sends every request through. The SDK has no
 * base-URL option (interop.md, "Twilio SDK against a local server"): it builds
 * absolute URIs on api.twilio.com and pricing.twilio.com, and hands each to
 * `httpClient.request`. Here that URI's scheme and host are replaced by the
 * configured base (a fake, Prism, a proxy), its path kept; the SDK's own
 * paging (`next_page_uri`, made absolute on api.twilio.com) goes through the
 * same door. Any host that is not one of Twilio's two is refused before a
 * socket is opened: the account's credentials never go anywhere else.
 *
 * It also turns what came back into the two errors the provider classifies
 * (errors.ts): a Twilio error answer (status, Twilio code, Retry-After) and an
 * answer that is not JSON (with its HTTP status, which the SDK's own
 * JSON.parse would lose).
 */
import twilio from 'twilio';

/** The two Twilio APIs this provider calls. */
export type TwilioApiHost = 'api' | 'pricing';

export const TWILIO_HOSTS: Readonly<Record<TwilioApiHost, string>> = { api: 'api.twilio.com', pricing: 'pricing.twilio.com' };

/** A request as it leaves, and what came back: for the test-only hooks. */
export interface OutgoingRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  /** Set by a test to send no credentials (Prism answers 401 then). */
  omitAuth?: boolean;
}
export interface IncomingAnswer {
  method: string;
  uri: string;
  status: number;
  body: unknown;
}

/**
 * Test-only: the contract tests set Prism's `Prefer` header and read Prism's
 * validation verdict here. Production never passes them.
 */
export interface TwilioHttpHooks {
  beforeRequest?(req: OutgoingRequest): void;
  afterResponse?(res: IncomingAnswer): void;
}

/** Twilio answered with an error status (its body `{ code, message, more_info, status }`, when it is JSON). */
export class TwilioHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | undefined,
    readonly twilioMessage: string | undefined,
    readonly retryAfterS: number | undefined,
  ) {
    super(`Twilio answered HTTP ${status}${code === undefined ? '' : ` (code ${code})`}`);
    this.name = 'TwilioHttpError';
  }
}

/** A success status whose body is not JSON. */
export class TwilioUnparsableAnswer extends Error {
  constructor(readonly status: number) {
    super(`Twilio answered HTTP ${status} with a body that is not JSON`);
    this.name = 'TwilioUnparsableAnswer';
  }
}

/** A URI on a host that is not Twilio's: refused, nothing sent. */
export class TwilioHostRefused extends Error {
  constructor(readonly host: string) {
    super(`refusing to send Twilio credentials to ${host}: not a Twilio API host`);
    this.name = 'TwilioHostRefused';
  }
}

export interface TwilioHttpClientOptions {
  /** Replaces scheme and host of api.twilio.com URIs; null leaves them alone. */
  apiBase: URL | null;
  /** Replaces scheme and host of pricing.twilio.com URIs; null leaves them alone. */
  pricingBase: URL | null;
  timeoutMs: number;
  hooks?: TwilioHttpHooks | undefined;
}

type RequestOptions = Parameters<twilio.RequestClient['request']>[0];
type SdkResponse = Awaited<ReturnType<twilio.RequestClient['request']>>;

/**
 * Which Twilio API a hostname belongs to. The SDK may have put an edge and a
 * region into it (TWILIO_EDGE/TWILIO_REGION: api.sydney.au1.twilio.com).
 */
function apiOf(hostname: string): TwilioApiHost | null {
  const m = /^(api|pricing)(\.[a-z0-9-]+)*\.twilio\.com$/i.exec(hostname);
  return m ? (m[1]!.toLowerCase() as TwilioApiHost) : null;
}

/** Parses a base URL option: scheme, host and port only (paths stay Twilio's). */
export function parseBase(value: string | undefined, option: string): URL | null {
  if (value === undefined) return null;
  const u = new URL(value);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${option}: http or https URL expected, got ${u.protocol}`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.username || u.password) {
    throw new Error(`${option}: scheme and host only (the paths stay Twilio's), got ${value}`);
  }
  return u;
}

function retryAfterOf(headers: unknown): number | undefined {
  const v = (headers as Record<string, unknown> | undefined)?.['retry-after'];
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.ceil(n) : undefined;
}

export class TwilioHttpClient extends twilio.RequestClient {
  constructor(private readonly opts: TwilioHttpClientOptions) {
    // No retries of our own here: a retried purchase is a decision (provider), not a transport detail.
    super({ timeout: opts.timeoutMs, autoRetry: false });
  }

  /** The URI this request really goes to, or TwilioHostRefused. */
  target(uri: string): string {
    const u = new URL(uri);
    const api = apiOf(u.hostname);
    if (!api) throw new TwilioHostRefused(u.host);
    const base = api === 'api' ? this.opts.apiBase : this.opts.pricingBase;
    if (!base) return u.href;
    return `${base.protocol}//${base.host}${u.pathname}${u.search}`;
  }

  override async request<T>(opts: RequestOptions): Promise<SdkResponse & { body: T }> {
    const uri = this.target(opts.uri);
    const headers = (opts.headers ?? {}) as Record<string, string>;
    const out: OutgoingRequest = { method: opts.method.toUpperCase(), uri, headers };
    this.opts.hooks?.beforeRequest?.(out);
    const sent = out.omitAuth ? { ...opts, uri, headers, username: undefined, password: undefined } : { ...opts, uri, headers };
    const res = (await super.request(sent)) as SdkResponse & { body: T };
    const body: unknown = res.body;
    this.opts.hooks?.afterResponse?.({ method: opts.method.toUpperCase(), uri, status: res.statusCode, body });
    // axios leaves a body it could not parse as JSON as a string; 204 has none.
    const unparsable = typeof body === 'string' && body.length > 0;
    if (res.statusCode >= 400) {
      const err = !unparsable && body !== null && typeof body === 'object' ? (body as { code?: unknown; message?: unknown }) : {};
      throw new TwilioHttpError(
        res.statusCode,
        typeof err.code === 'number' ? err.code : undefined,
        typeof err.message === 'string' ? err.message : undefined,
        retryAfterOf(res.headers),
      );
    }
    if (unparsable) throw new TwilioUnparsableAnswer(res.statusCode);
    return res;
  }
}
