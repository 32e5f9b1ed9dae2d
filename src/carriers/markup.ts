/**
 * TwiML and TeXML, built as strings: the gateway emits a handful of fixed
 * shapes, every value escaped. TeXML is Twilio-compatible markup, so one
 * builder serves both; Telnyx's extra <Stream> attributes come in as options.
 * Every shape is checked against test/fixtures/twiml.xsd in the tests.
 */

/**
 * Escapes text for an XML attribute value or element content. Tabs and line
 * breaks are escaped too: an XML parser normalises a literal one in an
 * attribute to a space (XML 1.0, 3.3.3), which would change a value.
 */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"'\t\n\r]/g, (c) => ESCAPES[c]!);
}
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';

const attrs = (a: Readonly<Record<string, string>>): string => {
  let s = '';
  for (const [k, v] of Object.entries(a)) s += ` ${k}="${xmlEscape(v)}"`;
  return s;
};

export interface ConnectMarkup {
  /** Requested once the stream has ended; the answer says what happens next. */
  actionUrl: string;
  /** wss:// (ws:// only locally); no query string: Twilio drops it. */
  streamUrl: string;
  /** Per-call values; they come back in the stream's start message (customParameters / custom_parameters). */
  params: Readonly<Record<string, string>>;
  /** Extra <Stream> attributes (TeXML's bidirectionalMode, ...). */
  streamAttributes?: Readonly<Record<string, string>>;
}

/**
 * <Connect><Stream>: a two-way media stream that blocks until the socket
 * closes, then the carrier requests the action URL. Only the default
 * inbound_track is valid with <Connect>, so no track attribute.
 */
export function connectMarkup(m: ConnectMarkup): string {
  let p = '';
  for (const [name, value] of Object.entries(m.params)) p += `<Parameter${attrs({ name, value })}/>`;
  return `${HEAD}<Response><Connect${attrs({ action: m.actionUrl })}><Stream${attrs({ url: m.streamUrl, ...m.streamAttributes })}>${p}</Stream></Connect></Response>`;
}

/** <Reject> as the first verb: the call is not answered and not billed. */
export const REJECT_MARKUP = `${HEAD}<Response><Reject reason="rejected"/></Response>`;

export const HANGUP_MARKUP = `${HEAD}<Response><Hangup/></Response>`;

export const APOLOGY_MARKUP = `${HEAD}<Response><Say>Sorry, the assistant you called cannot be reached right now. Please try again later.</Say><Hangup/></Response>`;

export const XML = 'text/xml';
