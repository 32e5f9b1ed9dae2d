/**
 * Where the gateway may open an assistant's media socket. A team chooses its
 * assistant's mediaUrl, so without a policy a team could make the gateway
 * connect to internal addresses: the cloud metadata service above all
 * (169.254.169.254 hands out the machine's credentials), with no carrier
 * involved (outbound caller-id, then open the stream).
 *
 * The check runs on the *resolved* address at connect time (bridge.ts passes
 * policyLookup to the socket), not on the hostname when the URL is saved: DNS
 * can change between the two (rebinding).
 *
 * Always refused: link-local (169.254.0.0/16, fe80::/10, where the metadata
 * services live) and the known cloud metadata addresses, in every IPv6 form
 * that reaches them (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 * SWITCHBOARD_MEDIA_ALLOWED_NETWORKS (CIDR list) confines assistants further;
 * unset, everything else is allowed, loopback included, so an assistant on
 * localhost works during development.
 *
 * Pure functions, no I/O: tested with every form without sending a packet.
 */
import dns from 'node:dns';
import { isIP } from 'node:net';

export interface Network {
  readonly family: 4 | 6;
  /** 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

/** Parsed address: 4 bytes (IPv4) or 16 bytes (IPv6). */
type Addr = Uint8Array;

function parseV4(s: string): Addr | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const b = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    b[i] = n;
  }
  return b;
}

function parseV6(input: string): Addr | null {
  let s = input;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone); // fe80::1%eth0
  if (isIP(s) !== 6) return null;
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : fill < 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...rest];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    b[i * 2] = n >> 8;
    b[i * 2 + 1] = n & 0xff;
  });
  return b;
}

/** An IPv4 or IPv6 address (brackets and zone ids allowed) as bytes, or null. */
export function parseAddress(s: string): Addr | null {
  const t = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  return parseV4(t) ?? parseV6(t);
}

const startsWith = (a: Addr, prefix: number[]) => prefix.every((v, i) => a[i] === v);

/**
 * The IPv4 address an IPv6 address reaches, when it embeds one:
 * ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d
 * (NAT64, RFC 6052) and 2002:aabb:ccdd::/48 (6to4, RFC 3056).
 */
export function embeddedV4(a: Addr): Addr | null {
  if (a.length !== 16) return null;
  const zeros10 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  if (startsWith(a, [...zeros10, 0xff, 0xff])) return a.slice(12);
  if (startsWith(a, [...zeros10, 0, 0])) {
    // ::a.b.c.d, except :: (unspecified) and ::1 (IPv6 loopback), which embed nothing.
    const v = a.slice(12);
    return v[0] === 0 && v[1] === 0 && v[2] === 0 && v[3]! <= 1 ? null : v;
  }
  if (startsWith(a, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) return a.slice(12);
  if (startsWith(a, [0x20, 0x02])) return a.slice(2, 6);
  return null;
}

function inNetwork(a: Addr, n: { bytes: Uint8Array; prefix: number }): boolean {
  if (a.length !== n.bytes.length) return false;
  let bits = n.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (n.bytes[i]! & mask)) return false;
  }
  return true;
}

const net = (text: string): Network => {
  const r = parseNetworks(text);
  if (typeof r === 'string') throw new Error(r);
  return r[0]!;
};

/** Never an assistant, whatever the configuration. */
const FORBIDDEN: readonly Network[] = [
  net('169.254.0.0/16'), // IPv4 link-local: AWS, GCP, Azure, OCI, DigitalOcean metadata at 169.254.169.254
  net('fe80::/10'), // IPv6 link-local
  net('fd00:ec2::254/128'), // AWS instance metadata over IPv6
  net('100.100.100.200/32'), // Alibaba Cloud metadata
  net('168.63.129.16/32'), // Azure WireServer (VM agent, platform DNS)
];

export type AddressVerdict = { ok: true } | { ok: false; why: string };

/** Whether the gateway may connect to this resolved address. */
export function checkAddress(address: string, allowed: readonly Network[] | null): AddressVerdict {
  const a = parseAddress(address);
  if (!a) return { ok: false, why: `"${address}" is not an IP address` };
  const v4 = embeddedV4(a);
  const forms = v4 ? [a, v4] : [a];
  for (const f of forms) {
    for (const n of FORBIDDEN) {
      if (inNetwork(f, n)) return { ok: false, why: `${address} is in ${n.text} (link-local or cloud metadata), never allowed` };
    }
  }
  if (allowed === null) return { ok: true };
  if (forms.some((f) => allowed.some((n) => inNetwork(f, n)))) return { ok: true };
  return { ok: false, why: `${address} is outside SWITCHBOARD_MEDIA_ALLOWED_NETWORKS` };
}

/** "10.0.0.0/8, 2001:db8::/32, 203.0.113.7" → networks, or a message saying what is wrong. */
export function parseNetworks(list: string): Network[] | string {
  const out: Network[] = [];
  for (const raw of list.split(/[\s,]+/).filter(Boolean)) {
    const slash = raw.indexOf('/');
    const addrText = slash >= 0 ? raw.slice(0, slash) : raw;
    const a = parseAddress(addrText);
    if (!a) return `"${raw}" is not an IP network (write CIDRs such as 10.0.0.0/8 or 2001:db8::/32)`;
    const max = a.length * 8;
    const prefixText = slash >= 0 ? raw.slice(slash + 1) : String(max);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `"${raw}" has a bad prefix length (0-${max})`;
    out.push({ family: a.length === 4 ? 4 : 6, bytes: a, prefix: Number(prefixText), text: raw });
  }
  if (out.length === 0) return 'must list at least one CIDR, e.g. 10.0.0.0/8';
  return out;
}

/** The error a refused address produces: the bridge tells it apart from other connect errors. */
export class AddressRefused extends Error {
  readonly code = 'EADDRREFUSEDBYPOLICY';
  constructor(readonly why: string) {
    super(`media address refused: ${why}`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A dns.lookup for net/tls connect options that resolves, then drops every
 * address the policy refuses (failing when none is left). Handles both call
 * shapes: one address, or `all: true` (Node's happy-eyeballs connect).
 */
export function policyLookup(allowed: readonly Network[] | null) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '', 0);
      const list = addresses as dns.LookupAddress[];
      const verdicts = list.map((x) => ({ x, v: checkAddress(x.address, allowed) }));
      const ok = verdicts.filter((r) => r.v.ok).map((r) => r.x);
      if (ok.length === 0) {
        const why = verdicts.map((r) => (r.v.ok ? '' : r.v.why)).filter(Boolean)[0] ?? `${hostname} resolved to no address`;
        return callback(new AddressRefused(why) as NodeJS.ErrnoException, options.all ? [] : '', 0);
      }
      if (options.all) return callback(null, ok);
      callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}
