/**
 * The error catalogue: every error a client can see, with its stable code and
 * HTTP status. docs/errors.md lists the same codes, and a test fails when the
 * two drift apart. Errors carry their own status; transports only render them.
 */

export const ERRORS = {
  INVALID_REQUEST: { status: 400, description: 'The body, query or a parameter is malformed or has the wrong type; the message names the field.' },
  INVALID_JSON: { status: 400, description: 'The body is not valid JSON.' },
  INVALID_PHONE_NUMBER: { status: 400, description: 'A phone number could not be parsed as a valid number.' },
  UNSUPPORTED_COUNTRY: { status: 400, description: 'The country is not one of AE, US, CA, DE, AT, CH.' },
  PROVIDER_NOT_AVAILABLE: { status: 400, description: 'The number provider named is not one this gateway offers; the message lists the offered ones.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The Content-Type is not the one the endpoint accepts.' },
  UNAUTHENTICATED: { status: 401, description: 'The Authorization bearer token is missing, unknown, revoked or expired (the message says which).' },
  FORBIDDEN: { status: 403, description: 'The token is valid but may not do this (an admin-only action with a team token).' },
  PLAN_LIMIT_REACHED: { status: 403, description: 'The team already holds as many numbers as its plan allows.' },
  INVALID_SIGNATURE: { status: 403, description: 'A carrier webhook signature is missing, wrong, or outside its time window.' },
  NOT_FOUND: { status: 404, description: "No such resource in the caller's team (another team's ids are 404 too)." },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The path exists but not with this method.' },
  SLUG_TAKEN: { status: 409, description: 'Another team already uses this slug.' },
  NUMBER_UNAVAILABLE: { status: 409, description: "The number is not in the carrier's inventory, or someone holds it." },
  NUMBER_NOT_ACTIVE: { status: 409, description: 'The operation needs an active number (assignment) or a number in another status.' },
  INVALID_STATUS_TRANSITION: { status: 409, description: 'The number cannot move from its current status to the one asked for.' },
  NO_CALLER_ID: { status: 409, description: 'The assistant has no active, unexpired number to call from.' },
  TOKEN_LIMIT_REACHED: { status: 409, description: 'The team already holds 25 active tokens; revoke one before making another.' },
  NUMBER_SUSPENDED: { status: 409, description: 'An admin suspended this number: the team cannot release or re-buy it; contact the operator.' },
  REGULATORY_REQUIREMENTS: {
    status: 409,
    description: 'The provider needs an address, a bundle or documents for this country before it sells this number; the message says what.',
  },
  IDEMPOTENCY_CONFLICT: { status: 409, description: 'The Idempotency-Key was used before with a different request body.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body is larger than 64 KiB.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests; Retry-After says when to try again.' },
  PROVIDER_AUTH_FAILED: {
    status: 502,
    description: "The provider refused the gateway's credentials: an operator problem (check its API key or auth token), not the caller's.",
  },
  PROVIDER_UNAVAILABLE: {
    status: 502,
    description: 'The provider could not be reached, timed out or is failing; Retry-After says when to try again. Nothing was bought.',
  },
  PROVIDER_BAD_RESPONSE: { status: 502, description: 'The provider answered with something the gateway could not understand; the message names the provider.' },
  UNAVAILABLE: {
    status: 503,
    description: 'The gateway is draining, a carrier endpoint has no key configured, or the database cannot be reached (with Retry-After).',
  },
  INTERNAL: { status: 500, description: 'A bug: never caused by client input. Logged with the request id.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }

  toBody(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found.`);

/**
 * The close catalogue: how a media WebSocket ends, as the close status and
 * reason sent to the carrier and the assistant. Every reason is its stable
 * code (the close frame's reason text is the code itself); `recorded` ones
 * become the call record's endReason. docs/errors.md lists the same codes,
 * and the same test checks them.
 */
export const CLOSE_REASONS = {
  // The bridge ended: recorded as the call's endReason.
  carrier_hangup: { close: 1000, recorded: true, description: 'The carrier closed its stream (the caller hung up).' },
  assistant_hangup: { close: 1000, recorded: true, description: 'The assistant closed its socket.' },
  assistant_unreachable: {
    close: 1011,
    recorded: true,
    description:
      "The assistant's media URL refused, timed out (5 s), answered without upgrading, or is refused by SWITCHBOARD_MEDIA_ALLOWED_NETWORKS (the call's reason says media_address_refused).",
  },
  assistant_stalled: { close: 1011, recorded: true, description: 'The assistant stopped reading: more than the buffer limit (1 MiB) waited for it.' },
  carrier_stalled: { close: 1011, recorded: true, description: 'The carrier stopped reading: more than the buffer limit (1 MiB) waited for it.' },
  assistant_error: { close: 1011, recorded: true, description: "The assistant's socket failed after it opened (reset, protocol error)." },
  carrier_error: { close: 1011, recorded: true, description: "The carrier's socket failed (reset, protocol error)." },
  assistant_timeout: { close: 1001, recorded: true, description: 'The assistant stopped answering pings.' },
  carrier_timeout: { close: 1001, recorded: true, description: 'The carrier stopped answering pings.' },
  gateway_shutdown: { close: 1001, recorded: true, description: 'The gateway was stopping and the drain time (SWITCHBOARD_DRAIN_MS) ran out.' },
  internal_error: { close: 1011, recorded: true, description: 'A bug in the gateway; logged with the call id.' },
  // The stream was refused before bridging: nothing is relayed, and the call record is unchanged.
  invalid_call_token: { close: 1008, recorded: false, description: "The stream's call id or media token is missing, unknown or forged." },
  call_token_expired: {
    close: 1008,
    recorded: false,
    description: 'The media token is older than SWITCHBOARD_MEDIA_TOKEN_TTL_S (plus 600 s for outbound calls).',
  },
  call_token_used: { close: 1008, recorded: false, description: 'The call already has its media stream, or it has ended: a token opens one stream, once.' },
  wrong_media_endpoint: {
    close: 1008,
    recorded: false,
    description: "The token is another carrier's: a call's stream opens only on its own carrier's /media endpoint.",
  },
  no_start_message: { close: 1008, recorded: false, description: 'The carrier did not send its start message within 10 s.' },
  protocol_violation: {
    close: 1008,
    recorded: false,
    description: "The opening frames are not the carrier's media protocol (JSON text, connected then start).",
  },
} as const satisfies Record<string, { close: 1000 | 1001 | 1008 | 1011; recorded: boolean; description: string }>;

export type CloseReason = keyof typeof CLOSE_REASONS;
/** The reasons a bridged call can end with. */
export type EndReason = { [K in CloseReason]: (typeof CLOSE_REASONS)[K]['recorded'] extends true ? K : never }[CloseReason];
export type RefusalReason = Exclude<CloseReason, EndReason>;
