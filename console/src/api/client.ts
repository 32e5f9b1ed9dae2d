/**
 * The console's only way to the gateway: the same public /api that curl users
 * have, with the token as a bearer header (never in a URL). Errors come back as
 * ApiError (the server's own message, written for people) or NetworkError
 * (the gateway could not be reached), so pages can say which it was.
 */
import type {
  ApiErrorBody,
  AssignRequest,
  AssistantCreateRequest,
  AssistantListResponse,
  AssistantPatchRequest,
  AssistantResponse,
  CallListQuery,
  CallListResponse,
  Me,
  PhoneNumberListQuery,
  PhoneNumberListResponse,
  PhoneNumberPatchRequest,
  PhoneNumberResponse,
  ProviderListResponse,
  PurchaseRequest,
  SearchRequest,
  SearchResponse,
  TeamCreateRequest,
  TeamCreateResponse,
  TeamListResponse,
  TeamPatchRequest,
  TeamResponse,
  TokenCreateRequest,
  TokenCreateResponse,
  TokenListResponse,
} from './types';

/** The gateway answered with an error in the catalogue's shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The request never got an answer: gateway down, network gone, or aborted. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  constructor() {
    super('The console could not reach the gateway. Check that it is running and that your network is up, then retry.');
  }
}

export type Query = Record<string, string | number | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const isErrorBody = (b: unknown): b is ApiErrorBody => typeof b === 'object' && b !== null && typeof (b as ApiErrorBody).error?.message === 'string';

/** A random key that also works outside secure contexts (crypto.randomUUID needs https or localhost). */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ApiClient {
  constructor(
    private readonly token: string,
    /** Called once a request comes back 401: the token stopped working (revoked, expired). */
    private readonly onUnauthenticated: (e: ApiError) => void = () => {},
  ) {}

  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json', ...o.headers };
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(withQuery(path, o.query), {
        method,
        headers,
        body: o.body === undefined ? null : JSON.stringify(o.body),
        cache: 'no-store',
        credentials: 'omit',
        signal: o.signal ?? null,
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw new NetworkError();
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!res.ok) {
      const e = isErrorBody(parsed)
        ? new ApiError(res.status, parsed.error.code, parsed.error.message, parsed.error.details)
        : new ApiError(res.status, 'HTTP_' + res.status, `The gateway answered ${res.status} ${res.statusText || ''}`.trim() + '.');
      if (res.status === 401) this.onUnauthenticated(e);
      throw e;
    }
    return parsed as T;
  }

  // ------------------------------------------------------------ who, teams and tokens
  me = () => this.request<Me>('GET', '/api/me');
  listTeams = () => this.request<TeamListResponse>('GET', '/api/teams');
  getTeam = (teamId: string) => this.request<TeamResponse>('GET', `/api/teams/${enc(teamId)}`);
  createTeam = (body: TeamCreateRequest) => this.request<TeamCreateResponse>('POST', '/api/teams', { body });
  setPlan = (teamId: string, body: TeamPatchRequest) => this.request<TeamResponse>('PATCH', `/api/teams/${enc(teamId)}`, { body });
  createToken = (teamId: string, body: TokenCreateRequest) => this.request<TokenCreateResponse>('POST', `/api/teams/${enc(teamId)}/tokens`, { body });
  listTokens = (teamId: string) => this.request<TokenListResponse>('GET', `/api/teams/${enc(teamId)}/tokens`);
  revokeToken = (teamId: string, tokenId: string) => this.request<void>('DELETE', `/api/teams/${enc(teamId)}/tokens/${enc(tokenId)}`);

  // ------------------------------------------------------------ assistants
  listAssistants = (teamId: string) => this.request<AssistantListResponse>('GET', '/api/assistants', { query: { teamId } });
  getAssistant = (id: string) => this.request<AssistantResponse>('GET', `/api/assistants/${enc(id)}`);
  createAssistant = (body: AssistantCreateRequest) => this.request<AssistantResponse>('POST', '/api/assistants', { body });
  updateAssistant = (id: string, body: AssistantPatchRequest) => this.request<AssistantResponse>('PATCH', `/api/assistants/${enc(id)}`, { body });
  deleteAssistant = (id: string) => this.request<void>('DELETE', `/api/assistants/${enc(id)}`);
  assignNumbers = (assistantId: string, body: AssignRequest) =>
    this.request<AssistantResponse>('PATCH', `/api/assistants/${enc(assistantId)}/telephony/phone-numbers`, { body });

  // ------------------------------------------------------------ numbers
  listProviders = () => this.request<ProviderListResponse>('GET', '/api/providers');
  listNumbers = (query: PhoneNumberListQuery, signal?: AbortSignal) =>
    this.request<PhoneNumberListResponse>('GET', '/api/phone-numbers', { query: { ...query }, ...(signal ? { signal } : {}) });
  search = (body: SearchRequest) => this.request<SearchResponse>('POST', '/api/phone-numbers/search', { body });
  purchase = (body: PurchaseRequest, idempotencyKey: string) =>
    this.request<PhoneNumberResponse>('POST', '/api/phone-numbers/purchase', { body, headers: { 'Idempotency-Key': idempotencyKey } });
  setNumberStatus = (id: string, body: PhoneNumberPatchRequest) => this.request<PhoneNumberResponse>('PATCH', `/api/phone-numbers/${enc(id)}`, { body });
  releaseNumber = (id: string) => this.request<PhoneNumberResponse>('DELETE', `/api/phone-numbers/${enc(id)}`);

  // ------------------------------------------------------------ calls
  listCalls = (query: CallListQuery, signal?: AbortSignal) =>
    this.request<CallListResponse>('GET', '/api/calls', { query: { ...query }, ...(signal ? { signal } : {}) });
}

const enc = encodeURIComponent;
