/**
 * Builds the real number providers the configuration enables (Twilio,
 * Telnyx). The simulated carrier needs the database and is built by the
 * gateway itself.
 */
import type { Logger } from 'pino';
import type { ProvidersConfig } from '../config.js';
import type { NumberProvider } from './provider.js';
import { TelnyxProvider } from './telnyx/telnyx-provider.js';
import { TwilioProvider } from './twilio/twilio-provider.js';

export interface ProviderDeps {
  /** The gateway's public base URL (voice URLs point here). */
  publicUrl: () => string;
  log: Logger;
}

export function buildProviders(config: ProvidersConfig, deps: ProviderDeps): NumberProvider[] {
  const out: NumberProvider[] = [];
  if (config.twilio) {
    out.push(
      new TwilioProvider({
        accountSid: config.twilio.accountSid,
        authToken: config.twilio.authToken,
        apiUrl: config.twilio.apiUrl,
        publicUrl: deps.publicUrl,
        log: deps.log,
      }),
    );
  }
  if (config.telnyx) {
    out.push(
      new TelnyxProvider({
        apiKey: config.telnyx.apiKey,
        apiUrl: config.telnyx.apiUrl,
        connectionId: config.telnyx.connectionId,
        log: deps.log,
      }),
    );
  }
  return out;
}
