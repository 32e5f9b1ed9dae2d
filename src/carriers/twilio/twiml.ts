/** TwiML, built as strings: the gateway emits four fixed shapes, escaped. */

/** Escapes text for an XML attribute value or element content. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * <Connect><Stream>: a two-way media stream that blocks until the socket
 * closes, then Twilio requests the action URL. The stream URL has no query
 * string (Twilio drops it); per-call values go in <Parameter>s and come back
 * in the stream's start.customParameters. Only the default inbound_track is
 * valid with <Connect>, so no track attribute.
 */
export function connectTwiml(actionUrl: string, streamUrl: string, params: Record<string, string>): string {
  let p = '';
  for (const [name, value] of Object.entries(params)) p += `<Parameter name="${xmlEscape(name)}" value="${xmlEscape(value)}"/>`;
  return `${HEAD}<Response><Connect action="${xmlEscape(actionUrl)}"><Stream url="${xmlEscape(streamUrl)}">${p}</Stream></Connect></Response>`;
}

/** <Reject> as the first verb: the call is not answered and not billed. */
export const REJECT_TWIML = `${HEAD}<Response><Reject reason="rejected"/></Response>`;

export const HANGUP_TWIML = `${HEAD}<Response><Hangup/></Response>`;

export const APOLOGY_TWIML = `${HEAD}<Response><Say>Sorry, the assistant you called cannot be reached right now. Please try again later.</Say><Hangup/></Response>`;
