import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { parseForm, type FormParams } from '../../src/carriers/form.js';
import { alternatePortUrl, twilioSignature, validateTwilioForm, validateTwilioJson } from '../../src/carriers/twilio/signature.js';

const TOKEN = '12345';
const URL_ = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const form = (o: Record<string, string | string[]>): FormParams => new Map(Object.entries(o).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
const PARAMS = form({ CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' });

describe('X-Twilio-Signature known-answer vectors (carriers.md)', () => {
  it('signs the documented request', () => {
    expect(twilioSignature(TOKEN, URL_, PARAMS)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });
  it('the same URL signed with :443', () => {
    expect(twilioSignature(TOKEN, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS)).toBe('kvajT1Ptam85bY51eRf/AJRuM3w=');
    // ... and a request signed either way validates against the configured URL.
    expect(validateTwilioForm(TOKEN, 'kvajT1Ptam85bY51eRf/AJRuM3w=', URL_, PARAMS)).toBe(true);
    expect(validateTwilioForm(TOKEN, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS)).toBe(true);
  });
  it('an http URL signed with :80', () => {
    expect(validateTwilioForm(TOKEN, '0ZXoZLH/DfblKGATFgpif+LLRf4=', 'http://mycompany.com/myapp.php?foo=1&bar=2', PARAMS)).toBe(true);
  });
  it('repeated parameters: distinct values, sorted', () => {
    const p = form({ Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] });
    expect(twilioSignature(TOKEN, URL_, p)).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });
  it('JSON body: signature over the URL with bodySHA256, body hash checked', () => {
    const body = '{"property": "value", "boolean": true}';
    const hash = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';
    const url = `${URL_}&bodySHA256=${hash}`;
    expect(validateTwilioJson(TOKEN, 'a9nBmqA0ju/hNViExpshrM61xv4=', url, body)).toBe(true);
    expect(validateTwilioJson(TOKEN, 'a9nBmqA0ju/hNViExpshrM61xv4=', url, body + ' ')).toBe(false);
  });
});

describe('validation rejects what it must', () => {
  const sig = twilioSignature(TOKEN, URL_, PARAMS);
  it.each([
    ['a tampered parameter', URL_, form({ ...Object.fromEntries([...PARAMS].map(([k, v]) => [k, v[0]!])), To: '+18005551213' })],
    ['an extra parameter', URL_, form({ ...Object.fromEntries([...PARAMS].map(([k, v]) => [k, v[0]!])), Extra: 'x' })],
    ['a dropped parameter', URL_, form({ CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309' })],
    ['a trailing slash', 'https://mycompany.com/myapp.php/?foo=1&bar=2', PARAMS],
    ['a scheme mismatch', 'http://mycompany.com/myapp.php?foo=1&bar=2', PARAMS],
    ['a re-sorted query', 'https://mycompany.com/myapp.php?bar=2&foo=1', PARAMS],
    ['a non-default port', 'https://mycompany.com:8443/myapp.php?foo=1&bar=2', PARAMS],
  ])('%s', (_name, url, params) => {
    expect(validateTwilioForm(TOKEN, sig, url, params)).toBe(false);
  });
  it('a missing or truncated signature', () => {
    expect(validateTwilioForm(TOKEN, undefined, URL_, PARAMS)).toBe(false);
    expect(validateTwilioForm(TOKEN, sig.slice(0, -1), URL_, PARAMS)).toBe(false);
    expect(validateTwilioForm('other-token', sig, URL_, PARAMS)).toBe(false);
  });
  it('re-encoding the query string breaks the signature (raw query must be used as received)', () => {
    const raw = "https://example.com/carriers/twilio/voice?name=O'Brien&x=a+b";
    const s = twilioSignature(TOKEN, raw, PARAMS);
    expect(validateTwilioForm(TOKEN, s, raw, PARAMS)).toBe(true);
    expect(validateTwilioForm(TOKEN, s, 'https://example.com/carriers/twilio/voice?name=O%27Brien&x=a%20b', PARAMS)).toBe(false);
  });
  it('alternatePortUrl adds or removes only the default port', () => {
    expect(alternatePortUrl('https://a.com/x?y=1')).toBe('https://a.com:443/x?y=1');
    expect(alternatePortUrl('http://a.com:80/x')).toBe('http://a.com/x');
    expect(alternatePortUrl('https://a.com:8443/x')).toBeNull();
  });
});

describe('agrees with the official twilio package (oracle)', () => {
  const cases: Array<[string, Record<string, string | string[]>]> = [
    ['https://gw.example.com/carriers/twilio/voice', { CallSid: 'CA' + 'a'.repeat(32), From: '+14155550100', To: '+14155550199', CallStatus: 'ringing' }],
    ['https://gw.example.com/carriers/twilio/voice?x=1&y=%20z', { Body: 'héllo wörld ✓', 'Weird Name': 'a&b=c', Empty: '' }],
    ['http://localhost:8080/carriers/twilio/status', { CallSid: 'CA1', CallDuration: '42', SequenceNumber: '3' }],
    ['https://gw.example.com/carriers/twilio/voice', { Digits: ['9', '1', '9', '3'], a: 'x', B: 'y', _: 'z' }],
  ];
  it.each(cases)('%s', (url, params) => {
    const expected = twilio.getExpectedTwilioSignature(TOKEN, url, params);
    expect(twilioSignature(TOKEN, url, form(params))).toBe(expected);
    expect(validateTwilioForm(TOKEN, expected, url, form(params))).toBe(true);
    expect(twilio.validateRequest(TOKEN, twilioSignature(TOKEN, url, form(params)), url, params)).toBe(true);
  });
  it('parses a raw body the way Twilio encodes it', () => {
    const params = { From: '+1 415', Note: "O'Brien & co", Plus: 'a+b' };
    const raw = new URLSearchParams(params).toString();
    expect(twilioSignature(TOKEN, URL_, parseForm(raw))).toBe(twilio.getExpectedTwilioSignature(TOKEN, URL_, params));
  });
});
