/**
 * A provider's failure as the API's error. The message names the provider
 * and says what to do; it never carries a credential (the providers' own
 * messages don't either: they are written for this).
 */
import { AppError } from '../../errors.js';
import { ProviderError } from '../../providers/provider.js';

export function providerAppError(err: ProviderError): AppError {
  const who = err.provider === 'sim' ? 'The simulated carrier' : err.provider === 'twilio' ? 'Twilio' : 'Telnyx';
  switch (err.kind) {
    case 'unavailable':
      return new AppError('NUMBER_UNAVAILABLE', `${err.message} Search again for another number.`);
    case 'regulatory':
      return new AppError('REGULATORY_REQUIREMENTS', err.message);
    case 'auth':
      return new AppError('PROVIDER_AUTH_FAILED', `${who} refused this gateway's credentials; the operator must check them. Nothing was bought.`);
    case 'unavailable_provider': {
      const wait = String(err.details?.retryAfterS ?? 30);
      return new AppError(
        'PROVIDER_UNAVAILABLE',
        `${who} could not be reached or is failing (${err.message}); nothing was bought. Try again in ${wait} s.`,
        undefined,
        { 'Retry-After': wait },
      );
    }
    case 'bad_response':
      return new AppError(
        'PROVIDER_BAD_RESPONSE',
        `${who} answered with something this gateway could not understand${err.details?.status ? ` (HTTP ${err.details.status})` : ''}; nothing was bought. Try again later.`,
      );
    case 'invalid_request':
      return new AppError('INVALID_REQUEST', `${who} refused the request: ${err.message}`);
    case 'not_found':
      return new AppError('NOT_FOUND', err.message);
  }
}

/** The error to throw for anything a provider call raised. */
export function asAppError(err: unknown): unknown {
  return err instanceof ProviderError ? providerAppError(err) : err;
}
