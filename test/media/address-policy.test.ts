// The media address policy (src/media/address-policy.ts) as a pure function:
// every link-local and cloud-metadata form, in every IPv6 disguise that
// reaches them, is refused whatever the configuration; an allow-list confines
// the rest. No packet is sent by these tests: checkAddress never connects, and
// policyLookup only resolves "localhost" (the hosts file).
import { describe, expect, it } from 'vitest';
import { AddressRefused, checkAddress, embeddedV4, parseAddress, parseNetworks, policyLookup, type Network } from '../../src/media/address-policy.js';

const nets = (s: string): Network[] => {
  const r = parseNetworks(s);
  if (typeof r === 'string') throw new Error(r);
  return r;
};

const ALWAYS_REFUSED = [
  '169.254.169.254', // AWS, GCP, Azure, OCI metadata
  '169.254.0.1',
  '169.254.255.255',
  '[169.254.169.254]',
  '::ffff:169.254.169.254', // IPv4-mapped
  '::ffff:a9fe:a9fe', // the same, in hex
  '[::ffff:169.254.169.254]',
  '0:0:0:0:0:ffff:a9fe:a9fe',
  '::169.254.169.254', // IPv4-compatible (deprecated, still parsed)
  '64:ff9b::169.254.169.254', // NAT64 well-known prefix
  '64:ff9b::a9fe:a9fe',
  '2002:a9fe:a9fe::1', // 6to4 of 169.254.169.254
  'fe80::1', // IPv6 link-local
  'fe80::1%eth0',
  'febf:ffff::1', // still fe80::/10
  'FE80::ABCD',
  'fd00:ec2::254', // AWS metadata over IPv6
  '100.100.100.200', // Alibaba Cloud metadata
  '168.63.129.16', // Azure WireServer
  '::ffff:100.100.100.200',
];

describe('always refused: link-local and cloud metadata, in every form', () => {
  it.each(ALWAYS_REFUSED)('%s is refused with no allow-list', (addr) => {
    const v = checkAddress(addr, null);
    expect(v.ok, addr).toBe(false);
  });

  it.each(ALWAYS_REFUSED)('%s is refused even when an allow-list covers everything', (addr) => {
    expect(checkAddress(addr, nets('0.0.0.0/0, ::/0')).ok, addr).toBe(false);
  });
});

describe('no allow-list: everything else, loopback included (assistants on localhost work in development)', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '10.1.2.3',
    '192.168.1.1',
    '203.0.113.9',
    '2001:db8::1',
    'fec0::1',
    '169.255.0.1',
    '169.253.255.255',
  ])('%s is allowed', (addr) => {
    expect(checkAddress(addr, null)).toEqual({ ok: true });
  });
});

describe('SWITCHBOARD_MEDIA_ALLOWED_NETWORKS confines assistants', () => {
  const allowed = nets('10.0.0.0/8, 2001:db8::/32');

  it.each(['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3', '2001:db8::7', '2001:db8:ffff::1'])('%s, inside, is allowed', (addr) => {
    expect(checkAddress(addr, allowed)).toEqual({ ok: true });
  });

  it.each(['127.0.0.1', '::1', '11.0.0.1', '192.168.0.1', '2001:db9::1', '::ffff:127.0.0.1'])('%s, outside, is refused naming the variable', (addr) => {
    const v = checkAddress(addr, allowed);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.why).toContain('SWITCHBOARD_MEDIA_ALLOWED_NETWORKS');
  });

  it('a single address without a prefix is a /32 or /128', () => {
    const one = nets('203.0.113.7, ::1');
    expect(checkAddress('203.0.113.7', one).ok).toBe(true);
    expect(checkAddress('203.0.113.8', one).ok).toBe(false);
    expect(checkAddress('::1', one).ok).toBe(true);
  });

  it('prefixes that are not multiples of 8 mask exactly', () => {
    const n = nets('172.16.0.0/12');
    expect(checkAddress('172.31.255.255', n).ok).toBe(true);
    expect(checkAddress('172.32.0.0', n).ok).toBe(false);
    expect(checkAddress('172.15.255.255', n).ok).toBe(false);
  });
});

describe('parsing', () => {
  it.each(['', ' , ', 'abc', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '300.1.1.1', '1.2.3', '10.0.0.0/8x', 'fe80:::1'])(
    'the network list %j is refused with a message',
    (bad) => {
      expect(typeof parseNetworks(bad)).toBe('string');
    },
  );

  it('garbage is not an address', () => {
    for (const s of ['', 'localhost', '1.2.3.4.5', '01.2.3.256', '::g', '[1.2.3.4', 'example.com']) expect(parseAddress(s), s).toBeNull();
    expect(checkAddress('not-an-ip', null).ok).toBe(false);
  });

  it('embeddedV4 finds the IPv4 address inside mapped, compatible, NAT64 and 6to4 forms, and nothing in :: or ::1', () => {
    const v4 = (s: string) => {
      const e = embeddedV4(parseAddress(s)!);
      return e ? [...e].join('.') : null;
    };
    expect(v4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(v4('::1.2.3.4')).toBe('1.2.3.4');
    expect(v4('64:ff9b::1.2.3.4')).toBe('1.2.3.4');
    expect(v4('2002:0102:0304::')).toBe('1.2.3.4');
    expect(v4('::')).toBeNull();
    expect(v4('::1')).toBeNull();
    expect(v4('2001:db8::1')).toBeNull();
  });
});

describe('policyLookup: the check on resolved addresses at connect time', () => {
  const lookup = (allowed: Network[] | null, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      policyLookup(allowed)('localhost', { all }, (err, address) => resolve({ err, address })),
    );

  it('localhost resolves when loopback is allowed, in both call shapes', async () => {
    const one = await lookup(null, false);
    expect(one.err).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(one.address);
    const all = await lookup(null, true);
    expect(all.err).toBeNull();
    expect((all.address as Array<{ address: string }>).length).toBeGreaterThan(0);
  });

  it('localhost is refused with AddressRefused when the allow-list has no loopback', async () => {
    for (const all of [false, true]) {
      const r = await lookup(nets('203.0.113.0/24'), all);
      expect(r.err).toBeInstanceOf(AddressRefused);
      expect((r.err as AddressRefused).why).toContain('SWITCHBOARD_MEDIA_ALLOWED_NETWORKS');
    }
  });
});

describe('the forms a URL parser turns into the metadata address', () => {
  // The bridge checks new URL(mediaUrl).hostname: WHATWG URL parsing turns
  // octal, hex and decimal IPv4 forms into the dotted quad first.
  it.each([
    'ws://0251.0376.0251.0376/x',
    'ws://0xa9fea9fe/x',
    'ws://2852039166/x',
    'ws://169.254.169.254./x',
    'wss://[::ffff:a9fe:a9fe]:443/x',
    'ws://[fe80::1]/x',
  ])('%s is refused', (url) => {
    const host = new URL(url).hostname;
    expect(parseAddress(host), host).not.toBeNull();
    expect(checkAddress(host, null).ok, host).toBe(false);
  });
});
