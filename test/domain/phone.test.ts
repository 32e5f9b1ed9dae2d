// parsePhone / normalizePhone: every common way of writing a number, as
// carriers and API users send them, comes out as E.164 (spec section 1).
import { describe, it, expect } from 'vitest';
import { parsePhone, normalizePhone, stripUri, nationalNumberOf, isSupportedCountry } from '../../src/domain/phone.js';

// Real, valid numbers (libphonenumber max metadata): a San Francisco
// landline, an Ottawa one, Berlin, Vienna, Zurich, Dubai and a UAE mobile.
const SF = '+14155552671';

describe('valid numbers come out as E.164', () => {
  it.each<[string, string | undefined, string, string]>([
    // input, regionHint, E.164, country
    ['+14155552671', undefined, SF, 'US'],
    ['+1 (415) 555-2671', undefined, SF, 'US'],
    ['+1 415 555 2671', undefined, SF, 'US'],
    ['+1.415.555.2671', undefined, SF, 'US'],
    ['+1-415-555-2671', undefined, SF, 'US'],
    ['  +14155552671  ', undefined, SF, 'US'],
    // Bare digits without a hint are read as international (country code first).
    ['14155552671', undefined, SF, 'US'],
    // URIs as SIP servers and Twilio send them.
    ['tel:+1-415-555-2671', undefined, SF, 'US'],
    ['tel:+14155552671;ext=1', undefined, SF, 'US'],
    ['sip:+14155552671@host;user=phone', undefined, SF, 'US'],
    ['sip:+14155552671@host:5060;transport=udp', undefined, SF, 'US'],
    ['sip:14155552671@pbx.example.com', undefined, SF, 'US'],
    ['sips:+14155552671@host', undefined, SF, 'US'],
    ['SIP:+14155552671@host', undefined, SF, 'US'],
    // The 00 international call prefix (Europe, the UAE).
    ['004930123456', undefined, '+4930123456', 'DE'],
    ['0049 30 12345678', undefined, '+493012345678', 'DE'],
    ['0041 44 668 18 00', undefined, '+41446681800', 'CH'],
    // National numbers with a region hint (e.g. Twilio's ToCountry).
    ['030 12345678', 'DE', '+493012345678', 'DE'],
    ['030 12345678', 'de', '+493012345678', 'DE'],
    ['(415) 555-2671', 'US', SF, 'US'],
    ['4155552671', 'US', SF, 'US'],
    ['(613) 995-0211', 'CA', '+16139950211', 'CA'],
    ['01 58058 0', 'AT', '+431580580', 'AT'],
    ['044 668 18 00', 'CH', '+41446681800', 'CH'],
    // The hint is ignored when the number carries its own country code.
    ['+49 30 12345678', 'US', '+493012345678', 'DE'],
    // A hinted "national" number that is really international without its '+'.
    ['14155552671', 'DE', SF, 'US'],
    ['+97143123456', undefined, '+97143123456', 'AE'],
    ['+971 50 123 4567', undefined, '+971501234567', 'AE'],
    ['+1 800 555 0199', undefined, '+18005550199', 'US'],
  ])('%j (hint %s) → %s', (input, hint, e164, country) => {
    expect(parsePhone(input, hint)).toEqual({ e164, country, valid: true });
    expect(normalizePhone(input, hint)).toBe(e164);
  });
});

describe('parsable but not valid numbers: valid=false, normalizePhone gives null', () => {
  it.each<[string, string]>([
    ['+1 555 555 5555', '+15555555555'], // 555 is not an assigned area code
    ['+1555', '+1555'],
    ['+1234', '+1234'],
    ['11111111111111111', '+1111111111111111'],
  ])('%j', (input, e164) => {
    const p = parsePhone(input);
    expect(p).not.toBeNull();
    expect(p!.e164).toBe(e164);
    expect(p!.valid).toBe(false);
    expect(normalizePhone(input)).toBeNull();
  });

  it('a national number without a hint is not guessed into some country', () => {
    // "030..." means Berlin only if you know the caller is in Germany.
    expect(normalizePhone('030 12345678')).toBeNull();
  });

  it('an unknown region hint does not make a national number valid', () => {
    expect(normalizePhone('030 12345678', 'XX')).toBeNull();
    expect(normalizePhone('4155552671', 'USA')).toBeNull();
  });
});

describe('garbage → null', () => {
  it.each<[string, string]>([
    ['word', 'hello'],
    ['empty', ''],
    ['blank', '   '],
    ['Twilio client identity', 'client:alice'],
    ['SIP URI with a user name', 'sip:alice@example.com'],
    ['bare scheme', 'tel:'],
    ['too few digits', '123'],
    ['too many digits', '4'.repeat(30)],
    ['70 digits', '1'.repeat(70)],
    ['70 characters, a valid number padded', '+1 415 555 2671'.padEnd(70, ' ')],
    ['letters after the digits', '+1 415 555 2671x'],
    ['extension text', '+1-415-555-2671 ext 5'],
    ['SIP parameters without a scheme', '+1 415 555 2671;user=phone'],
    ['18 digits after +', '+' + '1'.repeat(18)],
  ])('%s (%j)', (_what, input) => {
    expect(parsePhone(input)).toBeNull();
    expect(normalizePhone(input)).toBeNull();
  });

  it('non-strings (from untyped JSON) → null, not a throw', () => {
    for (const v of [undefined, null, 14155552671, {}, []]) {
      expect(parsePhone(v as unknown as string)).toBeNull();
      expect(normalizePhone(v as unknown as string)).toBeNull();
    }
  });
});

describe('helpers', () => {
  it.each([
    ['sip:+14155552671@host;user=phone', '+14155552671'],
    ['sips:+14155552671@host', '+14155552671'],
    ['tel:+1-415-555-2671;ext=9', '+1-415-555-2671'],
    ['+1 (415) 555-2671', '+1 (415) 555-2671'],
    ['client:alice', 'client:alice'],
  ])('stripUri(%j) → %j', (input, out) => {
    expect(stripUri(input)).toBe(out);
  });

  it('nationalNumberOf', () => {
    expect(nationalNumberOf(SF)).toBe('4155552671');
    expect(nationalNumberOf('+493012345678')).toBe('3012345678');
  });

  it('isSupportedCountry', () => {
    for (const c of ['AE', 'US', 'CA', 'DE', 'AT', 'CH']) expect(isSupportedCountry(c)).toBe(true);
    for (const c of ['GB', 'us', '', null, 1]) expect(isSupportedCountry(c)).toBe(false);
  });
});
