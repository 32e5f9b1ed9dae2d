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
  PLAN_LIMIT_REACHED: { status: 403, description: "The team already holds as many numbers as its plan allows." },
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
  REGULATORY_REQUIREMENTS: { status: 409, description: "The provider needs an address, a bundle or documents for this country before it sells this number; the message says what." },
  IDEMPOTENCY_CONFLICT: { status: 409, description: 'The Idempotency-Key was used before with a different request body.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The body is larger than 64 KiB.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests; Retry-After says when to try again.' },
  PROVIDER_AUTH_FAILED: { status: 502, description: "The provider refused the gateway's credentials: an operator problem (check its API key or auth token), not the caller's." },
  PROVIDER_UNAVAILABLE: { status: 502, description: 'The provider could not be reached, timed out or is failing; Retry-After says when to try again. Nothing was bought.' },
  PROVIDER_BAD_RESPONSE: { status: 502, description: 'The provider answered with something the gateway could not understand; the message names the provider.' },
  UNAVAILABLE: { status: 503, description: 'The gateway is draining, a carrier endpoint has no key configured, or the database cannot be reached (with Retry-After).' },
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
