/**
 * Every TwiML document shape the gateway renders today, taken from the
 * renderer (src/carriers/markup.ts) and from real answers of a running
 * gateway (Twilio's TwiML and Telnyx's TeXML), plus documents the schema must refuse. Shared by the schema test
 * in `npm test` (test/carriers/twiml-schema.test.ts) and the integration
 * tier's check that Debian's xmllint agrees (test/integration/twiml-xmllint.test.ts).
 */
import { APOLOGY_MARKUP, connectMarkup, HANGUP_MARKUP, REJECT_MARKUP } from '../../src/carriers/markup.js';
import { TELNYX_STREAM_ATTRIBUTES } from '../../src/carriers/telnyx/index.js';
import {
  assign,
  callSid,
  CARRIER_ENV,
  newAssistant,
  parseTwiml,
  telnyxCallId,
  telnyxConnectAction,
  telnyxVoice,
  telnyxVoiceParams,
  twilioConnectAction,
  twilioVoice,
  voiceParams,
} from './carrier.js';
import { availableNumbers, buyActive, createTeam, startGateway } from './gateway.js';
import { carrierSocket, CONNECTED, twilioStart } from './media.js';

export interface TwimlSample {
  name: string;
  xml: string;
}

/** Parameter names and values that need escaping (and some that merely look like they might). */
export const AWKWARD_PARAMS: Record<string, string> = {
  callId: '01a22afd-8293-7000-ac8c-09b27168cb12',
  'a&b': 'Tom & Jerry',
  quotes: `He said "hi" and 'bye'`,
  angle: '<Hangup/> & </Stream>',
  entities: '&amp; is not &lt; unescaped',
  cdataEnd: ']]>',
  unicode: 'Zoë – 電話 📞',
  empty: '',
  url: 'https://example.com/a?b=1&c=2#d',
};

/** The renderer's shapes, called directly. */
export function rendererSamples(): TwimlSample[] {
  return [
    {
      name: 'connectMarkup with awkward parameters',
      xml: connectMarkup({
        actionUrl: "https://gw.example.com/carriers/twilio/connect-action?x=1&y='2'",
        streamUrl: 'wss://gw.example.com/media/twilio',
        params: AWKWARD_PARAMS,
      }),
    },
    {
      name: 'connectMarkup without parameters',
      xml: connectMarkup({ actionUrl: 'http://127.0.0.1:8080/carriers/twilio/connect-action', streamUrl: 'ws://127.0.0.1:8080/media/twilio', params: {} }),
    },
    {
      name: 'connectMarkup for TeXML with awkward parameters',
      xml: connectMarkup({
        actionUrl: 'https://gw.example.com/carriers/telnyx/connect-action',
        streamUrl: 'wss://gw.example.com/media/telnyx',
        params: AWKWARD_PARAMS,
        streamAttributes: TELNYX_STREAM_ATTRIBUTES,
      }),
    },
    { name: 'REJECT_MARKUP', xml: REJECT_MARKUP },
    { name: 'HANGUP_MARKUP', xml: HANGUP_MARKUP },
    { name: 'APOLOGY_MARKUP', xml: APOLOGY_MARKUP },
  ];
}

/**
 * The documents a running gateway (real SQLite, real HTTP handler) answers:
 * a routed Twilio voice webhook, a rejected one, connect-action after a
 * normal stream and after an unreachable assistant, and the TwiML of
 * POST /api/outbound/caller-id.
 */
export async function gatewaySamples(): Promise<TwimlSample[]> {
  const t = await startGateway({ env: { ...CARRIER_ENV } });
  try {
    const addr = await t.gw.listen();
    const team = await createTeam(t, 'twiml-samples', 'pro');
    const agent = await newAssistant(t, team, 'agent');
    // An assistant nobody listens for: its calls fail, and Twilio then hears an apology.
    const gone = await newAssistant(t, team, 'gone', 'ws://127.0.0.1:9/stream');
    const [routedE164, goneE164, unknownE164] = await availableNumbers(t, 'US', 3);
    await assign(t, team, agent, [await buyActive(t, team, routedE164!)]);
    await assign(t, team, gone, [await buyActive(t, team, goneE164!)]);

    const routedSid = callSid();
    const routed = await twilioVoice(t, voiceParams({ CallSid: routedSid, To: routedE164! }));
    const rejected = await twilioVoice(t, voiceParams({ To: unknownE164! }));
    const hangup = await twilioConnectAction(t, { CallSid: routedSid, CallStatus: 'in-progress' });

    const goneSid = callSid();
    const goneCall = parseTwiml((await twilioVoice(t, voiceParams({ CallSid: goneSid, To: goneE164! }))).text);
    const c = await carrierSocket(`ws://127.0.0.1:${addr.port}/media/twilio`);
    c.ws.send(CONNECTED);
    c.ws.send(twilioStart(goneCall.callId!, goneCall.token!, goneSid));
    await c.closed; // the gateway closes the stream: the assistant cannot be reached
    const apology = await twilioConnectAction(t, { CallSid: goneSid, CallStatus: 'in-progress' });

    const outbound = await t.api.post('/api/outbound/caller-id').set(team.auth).send({ assistantId: agent, to: '+12125550123' });

    // The same through Telnyx's TeXML endpoints.
    const texmlSid = telnyxCallId();
    const texmlRouted = await telnyxVoice(t, telnyxVoiceParams({ CallSid: texmlSid, To: routedE164! }));
    const texmlRejected = await telnyxVoice(t, telnyxVoiceParams({ To: unknownE164! }));
    const texmlHangup = await telnyxConnectAction(t, { CallSid: texmlSid, CallStatus: 'in-progress' });

    for (const [what, r] of Object.entries({ routed, rejected, hangup, apology, outbound, texmlRouted, texmlRejected, texmlHangup })) {
      if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.text}`);
    }
    return [
      { name: 'Twilio voice webhook, routed', xml: routed.text },
      { name: 'Twilio voice webhook, rejected', xml: rejected.text },
      { name: 'connect-action after a stream', xml: hangup.text },
      { name: 'connect-action after an unreachable assistant', xml: apology.text },
      { name: 'POST /api/outbound/caller-id twiml', xml: outbound.body.twiml as string },
      { name: 'Telnyx TeXML voice webhook, routed', xml: texmlRouted.text },
      { name: 'Telnyx TeXML voice webhook, rejected', xml: texmlRejected.text },
      { name: 'Telnyx connect-action after a stream', xml: texmlHangup.text },
    ];
  } finally {
    await t.close();
  }
}

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Documents within the schema that the gateway does not render yet: Telnyx
 * TeXML's two-way stream (the coming TeXML renderer), and the optional
 * attributes of Say, Stream and Connect.
 */
export const ACCEPTED_SAMPLES: TwimlSample[] = [
  {
    name: 'Telnyx TeXML two-way stream',
    xml: `${DECL}<Response><Connect><Stream url="wss://gw.example.com/media/telnyx" name="sb" track="inbound_track" bidirectionalMode="rtp" bidirectionalCodec="PCMU" codec="PCMU" statusCallback="https://gw.example.com/carriers/telnyx/stream-status" statusCallbackMethod="POST"><Parameter name="callId" value="x"/></Stream></Connect></Response>`,
  },
  {
    name: 'Say with voice, language and loop, then Hangup',
    xml: `${DECL}<Response><Say voice="Polly.Joanna" language="en-US" loop="2">Hello &amp; goodbye</Say><Hangup/></Response>`,
  },
  {
    name: 'Connect with method GET',
    xml: `${DECL}<Response><Connect action="https://a.example/x" method="GET"><Stream url="wss://a.example/s"/></Connect></Response>`,
  },
  { name: 'busy Reject', xml: `${DECL}<Response><Reject reason="busy"/></Response>` },
  { name: 'Reject without a reason', xml: `${DECL}<Response><Reject/></Response>` },
  { name: 'empty Response', xml: `${DECL}<Response/>` },
];

export interface BrokenSample extends TwimlSample {
  /** What xmllint's error must mention. */
  error: RegExp;
}

/** Documents the schema must refuse, each for one reason. */
export const BROKEN_SAMPLES: BrokenSample[] = [
  {
    name: 'Stream without url',
    xml: `${DECL}<Response><Connect><Stream><Parameter name="a" value="b"/></Stream></Connect></Response>`,
    error: /Stream.*attribute 'url' is required/,
  },
  { name: 'unknown element', xml: `${DECL}<Response><Dial>+14155550100</Dial></Response>`, error: /Dial.*not expected/ },
  { name: 'bad Reject reason', xml: `${DECL}<Response><Reject reason="declined"/></Response>`, error: /Reject.*reason.*'declined'.*\{'rejected', 'busy'\}/ },
  { name: 'unknown root', xml: `${DECL}<Responses><Hangup/></Responses>`, error: /Responses.*No matching global declaration/ },
  {
    name: 'Stream url that is not a WebSocket URL',
    xml: `${DECL}<Response><Connect><Stream url="https://gw.example.com/media"/></Connect></Response>`,
    error: /Stream.*url.*pattern/,
  },
  {
    name: 'Connect without a Stream',
    xml: `${DECL}<Response><Connect action="https://a.example/x"/></Response>`,
    error: /Connect.*Missing child element.*Stream/,
  },
  {
    name: 'two Streams in one Connect',
    xml: `${DECL}<Response><Connect><Stream url="wss://a/1"/><Stream url="wss://a/2"/></Connect></Response>`,
    error: /Stream.*not expected/,
  },
  {
    name: 'Parameter without value',
    xml: `${DECL}<Response><Connect><Stream url="wss://a/1"><Parameter name="token"/></Stream></Connect></Response>`,
    error: /Parameter.*attribute 'value' is required/,
  },
  { name: 'unknown attribute on Hangup', xml: `${DECL}<Response><Hangup reason="x"/></Response>`, error: /Hangup.*attribute 'reason' is not allowed/ },
  { name: 'text in Hangup', xml: `${DECL}<Response><Hangup>now</Hangup></Response>`, error: /Hangup.*Character content is not allowed/ },
  {
    name: 'bad bidirectionalMode',
    xml: `${DECL}<Response><Connect><Stream url="wss://a/1" bidirectionalMode="udp"/></Connect></Response>`,
    error: /bidirectionalMode.*'udp'/,
  },
  {
    name: 'bad bidirectionalCodec',
    xml: `${DECL}<Response><Connect><Stream url="wss://a/1" bidirectionalCodec="GSM"/></Connect></Response>`,
    error: /bidirectionalCodec.*'GSM'/,
  },
  { name: 'empty Say', xml: `${DECL}<Response><Say></Say></Response>`, error: /Say.*length/ },
  { name: 'Say with a bad loop', xml: `${DECL}<Response><Say loop="-1">hi</Say></Response>`, error: /Say.*loop.*'-1'/ },
  {
    name: 'Connect action that is not an http URL',
    xml: `${DECL}<Response><Connect action="/relative"><Stream url="wss://a/1"/></Connect></Response>`,
    error: /Connect.*action.*pattern/,
  },
  {
    name: 'raw & in an attribute (not well-formed)',
    xml: `${DECL}<Response><Connect><Stream url="wss://a/1"><Parameter name="a" value="Tom & Jerry"/></Stream></Connect></Response>`,
    error: /parser error/,
  },
  { name: 'unclosed element (not well-formed)', xml: `${DECL}<Response><Hangup></Response>`, error: /parser error/ },
];
