/**
 * pino, with secrets redacted by path as a second line of defence: the code
 * never passes a token or signature to the logger in the first place.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers["x-switchboard-signature"]',
  'headers.authorization',
  'headers["x-twilio-signature"]',
  'headers["x-switchboard-signature"]',
  'signature',
  '*.signature',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'switchboard' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
