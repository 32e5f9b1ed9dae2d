// TwiML is checked, not just built: every document shape the gateway renders
// is validated by a real XML validator (libxml2's xmllint as WebAssembly,
// xmllint-wasm) against test/fixtures/twiml.xsd, and the validator is shown
// to refuse broken documents. Debian's xmllint gives the same verdicts
// (test/integration/twiml-xmllint.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { connectMarkup } from '../../src/carriers/markup.js';
import { attributesOf, validateTwiml, validateTwimlAll, type TwimlVerdict } from '../helpers/twiml-schema.js';
import { ACCEPTED_SAMPLES, AWKWARD_PARAMS, BROKEN_SAMPLES, gatewaySamples, rendererSamples, type TwimlSample } from '../helpers/twiml-samples.js';

let rendered: TwimlSample[];
/** Every sample's verdict, from one run of the validator (each run costs ~50 ms). */
const verdicts = new Map<string, TwimlVerdict>();

beforeAll(async () => {
  rendered = [...rendererSamples(), ...(await gatewaySamples())];
  const all = [...rendered, ...ACCEPTED_SAMPLES, ...BROKEN_SAMPLES];
  const vs = await validateTwimlAll(all.map((s) => s.xml));
  all.forEach((s, i) => verdicts.set(s.xml, vs[i]!));
});

describe('what the gateway renders', () => {
  it('covers every shape: connect (webhook and caller-id, TwiML and TeXML), reject, hangup, apology', () => {
    const all = rendered.map((s) => s.xml).join('\n');
    for (const verb of ['<Connect action=', '<Stream url=', '<Parameter name="token"', '<Reject reason="rejected"/>', '<Hangup/>', '<Say>']) {
      expect(all).toContain(verb);
    }
    expect(rendered.map((s) => s.name)).toEqual([
      'connectMarkup with awkward parameters',
      'connectMarkup without parameters',
      'connectMarkup for TeXML with awkward parameters',
      'REJECT_MARKUP',
      'HANGUP_MARKUP',
      'APOLOGY_MARKUP',
      'Twilio voice webhook, routed',
      'Twilio voice webhook, rejected',
      'connect-action after a stream',
      'connect-action after an unreachable assistant',
      'POST /api/outbound/caller-id twiml',
      'Telnyx TeXML voice webhook, routed',
      'Telnyx TeXML voice webhook, rejected',
      'Telnyx connect-action after a stream',
    ]);
  });

  it('the answers of a running gateway are the documented shapes', () => {
    const byName = Object.fromEntries(rendered.map((s) => [s.name, s.xml]));
    expect(byName['Twilio voice webhook, routed']).toMatch(
      /<Connect action="[^"]+"><Stream url="wss:\/\/[^"]+"><Parameter name="callId" value="[^"]+"\/><Parameter name="token" value="[^"]+"\/><\/Stream><\/Connect>/,
    );
    expect(byName['POST /api/outbound/caller-id twiml']).toMatch(/<Connect action="[^"]+"><Stream url="wss:\/\/[^"]+">/);
    expect(byName['Twilio voice webhook, rejected']).toContain('<Reject reason="rejected"/>');
    expect(byName['connect-action after a stream']).toMatch(/<Response><Hangup\/><\/Response>$/);
    expect(byName['connect-action after an unreachable assistant']).toMatch(/<Response><Say>[^<]+<\/Say><Hangup\/><\/Response>$/);
    // TeXML: a two-way mu-law stream in RTP mode, else Telnyx drops the audio sent back.
    expect(byName['Telnyx TeXML voice webhook, routed']).toMatch(
      /<Connect action="https:\/\/[^"]+\/carriers\/telnyx\/connect-action"><Stream url="wss:\/\/[^"]+\/media\/telnyx" bidirectionalMode="rtp" bidirectionalCodec="PCMU" codec="PCMU"><Parameter name="callId" value="[^"]+"\/><Parameter name="token" value="[^"]+"\/><\/Stream><\/Connect>/,
    );
    expect(byName['Telnyx TeXML voice webhook, rejected']).toContain('<Reject reason="rejected"/>');
  });

  it('every one is valid TwiML', async () => {
    for (const s of rendered) expect(verdicts.get(s.xml), `${s.name}:\n${s.xml}`).toEqual({ valid: true, errors: [] });
  });

  it('awkward parameter names and values reach an XML parser exactly as given', async () => {
    const xml = connectMarkup({
      actionUrl: 'https://gw.example.com/a?x=1&y=2',
      streamUrl: 'wss://gw.example.com/media/twilio',
      params: { ...AWKWARD_PARAMS, lines: 'line1\nline2\tend\r' },
    });
    expect((await validateTwiml(xml)).valid).toBe(true);
    const read = await attributesOf(xml, 'Parameter');
    // Line breaks and tabs too: escaped as character references, they are not normalised to spaces.
    expect(read).toEqual(Object.entries({ ...AWKWARD_PARAMS, lines: 'line1\nline2\tend\r' }).map(([name, value]) => ({ name, value })));
    expect(await attributesOf(xml, 'Connect')).toEqual([{ action: 'https://gw.example.com/a?x=1&y=2' }]);
  });

  it('the read-back check can fail: double escaping and raw newlines change what the parser reads', async () => {
    const doc = (value: string) =>
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Connect><Stream url="wss://a/1"><Parameter name="q" value="${value}"/></Stream></Connect></Response>`;
    // Valid documents both, but not the value meant: the schema alone would not notice.
    expect((await validateTwiml(doc('Tom &amp;amp; Jerry'))).valid).toBe(true);
    expect(await attributesOf(doc('Tom &amp;amp; Jerry'), 'Parameter')).toEqual([{ name: 'q', value: 'Tom &amp; Jerry' }]);
    // A raw line break in an attribute is read as a space (attribute-value normalisation).
    expect(await attributesOf(doc('line1\nline2'), 'Parameter')).toEqual([{ name: 'q', value: 'line1 line2' }]);
    expect(await attributesOf(doc('line1&#10;line2'), 'Parameter')).toEqual([{ name: 'q', value: 'line1\nline2' }]);
  });
});

describe('documents within the schema that nothing renders yet', () => {
  it.each(ACCEPTED_SAMPLES.map((s) => [s.name, s] as const))('%s: valid', (_name, s) => {
    expect(verdicts.get(s.xml), s.xml).toEqual({ valid: true, errors: [] });
  });
});

describe('the validator refuses broken documents', () => {
  it.each(BROKEN_SAMPLES.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const v = verdicts.get(s.xml)!;
    expect(v.valid, s.xml).toBe(false);
    expect(v.errors.join('\n')).toMatch(s.error);
  });

  it('one document at a time gives the same verdicts as the batch', async () => {
    const some = [rendered[0]!, BROKEN_SAMPLES[0]!, BROKEN_SAMPLES.at(-1)!];
    for (const s of some) expect(await validateTwiml(s.xml)).toEqual(verdicts.get(s.xml));
  });

  it('a broken copy of each rendered shape is refused', async () => {
    // The same documents the gateway answered, each broken one way; a validator that
    // said yes to everything would pass the test above but fail this one.
    const breakers: Array<[RegExp, string]> = [
      [/<Stream url="[^"]*"/, '<Stream'],
      [/reason="rejected"/, 'reason="nope"'],
      [/<Hangup\/>/, '<Hangup/><Play>x</Play>'],
      [/<Say>[^<]*<\/Say>/, '<Say loop="x">sorry</Say>'],
    ];
    const broken: Array<{ what: string; xml: string }> = [];
    for (const s of rendered) {
      for (const [re, by] of breakers) if (re.test(s.xml)) broken.push({ what: `${s.name} with ${by}`, xml: s.xml.replace(re, by) });
    }
    expect(broken.length).toBeGreaterThanOrEqual(rendered.length);
    const vs = await validateTwimlAll(broken.map((b) => b.xml));
    broken.forEach((b, i) => expect(vs[i]!.valid, b.what).toBe(false));
  });
});
