#!/usr/bin/env node
// Deterministic generator for the simulated carrier's phone-number inventory.
//
//   node scripts/generate-inventory.mjs            # (re)write fixtures/inventory/*.csv
//   node scripts/generate-inventory.mjs --check    # regenerate in memory, exit 1 if the
//                                                  # files on disk differ
//
// Output: fixtures/inventory/{AE,US,CA,DE,AT,CH}.csv, UTF-8, "\n" line endings, header
//   phoneNumber,countryCode,numberType,areaCode,city,region,monthlyCost,currency
//
// Determinism: one seeded mulberry32 PRNG per country (fixed seeds below), no Date and
// no Math.random. The tables are iterated in declaration order, so two runs produce
// byte-identical files (for a given libphonenumber-js metadata version: a metadata
// update that changes what validates can change the output, which `--check` reports).
//
// Every emitted number is checked with libphonenumber-js (max metadata): isValid(),
// country === the file's country, and getType() FIXED_LINE / FIXED_LINE_OR_MOBILE for
// local numbers, TOLL_FREE for toll-free numbers. A candidate that fails is skipped and
// another one is drawn; it is never written.

import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { PhoneNumber as CorePhoneNumber } from 'libphonenumber-js/core';
import maxMetadata from 'libphonenumber-js/max/metadata';

// ---------------------------------------------------------------------------------------
// Data tables.
//
// Area codes, cities and regions below are taken from the real national numbering plans:
//   US/CA  North American Numbering Plan (NANPA / CNAC area-code assignments)
//   DE     Bundesnetzagentur, Nummernplan Ortsnetzkennzahlen (ONKz)
//   AT     RTR, Nummerierungsplan / Ortsnetzkennzahlen (KEM-V)
//   CH     BAKOM/OFCOM, Schweizer Nummerierungsplan E.164 (Ortskennzahlen)
//   AE     TDRA, UAE National Numbering Plan (geographic area codes 2, 3, 4, 6, 7, 9)
// The subscriber numbers themselves are random (simulated inventory), restricted to
// shapes that libphonenumber-js accepts as valid fixed-line numbers.
//
// Row fields:
//   areaCode  national area code without trunk prefix
//   city      real city served by that area code
//   region    US state / CA province (2 letters), CH canton (2 letters),
//             DE / AT federal state name, AE emirate name
//   lengths   candidate subscriber-number lengths (DE/AT have variable lengths; a length
//             is drawn at random and kept only if libphonenumber-js validates it)
//   prefix    optional leading subscriber digit(s) used in that city (e.g. within UAE
//             code 6: Sharjah 5xx xxxx, Ajman 74x xxxx, Umm Al Quwain 76x xxxx)
// ---------------------------------------------------------------------------------------

/** United States: NANP, country calling code 1. Subscriber = NXX-XXXX. */
const US_LOCAL = [
  { areaCode: '212', city: 'New York', region: 'NY' },
  { areaCode: '213', city: 'Los Angeles', region: 'CA' },
  { areaCode: '415', city: 'San Francisco', region: 'CA' },
  { areaCode: '619', city: 'San Diego', region: 'CA' },
  { areaCode: '312', city: 'Chicago', region: 'IL' },
  { areaCode: '617', city: 'Boston', region: 'MA' },
  { areaCode: '206', city: 'Seattle', region: 'WA' },
  { areaCode: '503', city: 'Portland', region: 'OR' },
  { areaCode: '305', city: 'Miami', region: 'FL' },
  { areaCode: '512', city: 'Austin', region: 'TX' },
  { areaCode: '713', city: 'Houston', region: 'TX' },
  { areaCode: '214', city: 'Dallas', region: 'TX' },
  { areaCode: '303', city: 'Denver', region: 'CO' },
  { areaCode: '404', city: 'Atlanta', region: 'GA' },
  { areaCode: '602', city: 'Phoenix', region: 'AZ' },
  { areaCode: '215', city: 'Philadelphia', region: 'PA' },
  { areaCode: '615', city: 'Nashville', region: 'TN' },
  { areaCode: '702', city: 'Las Vegas', region: 'NV' },
  { areaCode: '612', city: 'Minneapolis', region: 'MN' },
  { areaCode: '313', city: 'Detroit', region: 'MI' },
];

/** Canada: NANP, country calling code 1. Subscriber = NXX-XXXX. */
const CA_LOCAL = [
  { areaCode: '416', city: 'Toronto', region: 'ON' },
  { areaCode: '613', city: 'Ottawa', region: 'ON' },
  { areaCode: '905', city: 'Hamilton', region: 'ON' },
  { areaCode: '519', city: 'London', region: 'ON' },
  { areaCode: '705', city: 'Sudbury', region: 'ON' },
  { areaCode: '514', city: 'Montreal', region: 'QC' },
  { areaCode: '418', city: 'Quebec City', region: 'QC' },
  { areaCode: '819', city: 'Gatineau', region: 'QC' },
  { areaCode: '604', city: 'Vancouver', region: 'BC' },
  { areaCode: '250', city: 'Victoria', region: 'BC' },
  { areaCode: '403', city: 'Calgary', region: 'AB' },
  { areaCode: '780', city: 'Edmonton', region: 'AB' },
  { areaCode: '204', city: 'Winnipeg', region: 'MB' },
  { areaCode: '306', city: 'Regina', region: 'SK' },
  { areaCode: '902', city: 'Halifax', region: 'NS' },
  { areaCode: '506', city: 'Moncton', region: 'NB' },
  { areaCode: '709', city: "St. John's", region: 'NL' },
  { areaCode: '867', city: 'Whitehorse', region: 'YT' },
];

/** Germany: country code 49. Ortsnetzkennzahl without the trunk 0. */
const DE_LOCAL = [
  { areaCode: '30', city: 'Berlin', region: 'Berlin', lengths: [7, 8] },
  { areaCode: '40', city: 'Hamburg', region: 'Hamburg', lengths: [7, 8] },
  { areaCode: '89', city: 'München', region: 'Bayern', lengths: [7, 8] },
  { areaCode: '911', city: 'Nürnberg', region: 'Bayern', lengths: [6, 7] },
  { areaCode: '221', city: 'Köln', region: 'Nordrhein-Westfalen', lengths: [6, 7] },
  { areaCode: '211', city: 'Düsseldorf', region: 'Nordrhein-Westfalen', lengths: [6, 7] },
  { areaCode: '231', city: 'Dortmund', region: 'Nordrhein-Westfalen', lengths: [6, 7] },
  { areaCode: '69', city: 'Frankfurt am Main', region: 'Hessen', lengths: [7, 8] },
  { areaCode: '711', city: 'Stuttgart', region: 'Baden-Württemberg', lengths: [6, 7] },
  { areaCode: '341', city: 'Leipzig', region: 'Sachsen', lengths: [6, 7] },
  { areaCode: '351', city: 'Dresden', region: 'Sachsen', lengths: [6, 7] },
  { areaCode: '511', city: 'Hannover', region: 'Niedersachsen', lengths: [6, 7] },
  { areaCode: '421', city: 'Bremen', region: 'Bremen', lengths: [6, 7] },
  { areaCode: '6131', city: 'Mainz', region: 'Rheinland-Pfalz', lengths: [5, 6] },
  { areaCode: '681', city: 'Saarbrücken', region: 'Saarland', lengths: [6, 7] },
  { areaCode: '431', city: 'Kiel', region: 'Schleswig-Holstein', lengths: [6, 7] },
  { areaCode: '381', city: 'Rostock', region: 'Mecklenburg-Vorpommern', lengths: [6, 7] },
  { areaCode: '331', city: 'Potsdam', region: 'Brandenburg', lengths: [6, 7] },
  { areaCode: '361', city: 'Erfurt', region: 'Thüringen', lengths: [6, 7] },
  { areaCode: '391', city: 'Magdeburg', region: 'Sachsen-Anhalt', lengths: [6, 7] },
];

/** Austria: country code 43. Ortsnetzkennzahl without the trunk 0. */
const AT_LOCAL = [
  { areaCode: '1', city: 'Wien', region: 'Wien', lengths: [7, 8] },
  { areaCode: '316', city: 'Graz', region: 'Steiermark', lengths: [6, 7] },
  { areaCode: '3842', city: 'Leoben', region: 'Steiermark', lengths: [5, 6] },
  { areaCode: '732', city: 'Linz', region: 'Oberösterreich', lengths: [6, 7] },
  { areaCode: '7242', city: 'Wels', region: 'Oberösterreich', lengths: [5, 6] },
  { areaCode: '7252', city: 'Steyr', region: 'Oberösterreich', lengths: [5, 6] },
  { areaCode: '662', city: 'Salzburg', region: 'Salzburg', lengths: [6, 7] },
  { areaCode: '512', city: 'Innsbruck', region: 'Tirol', lengths: [6, 7] },
  { areaCode: '463', city: 'Klagenfurt am Wörthersee', region: 'Kärnten', lengths: [6, 7] },
  { areaCode: '4242', city: 'Villach', region: 'Kärnten', lengths: [5, 6] },
  { areaCode: '2742', city: 'St. Pölten', region: 'Niederösterreich', lengths: [5, 6] },
  { areaCode: '2622', city: 'Wiener Neustadt', region: 'Niederösterreich', lengths: [5, 6] },
  { areaCode: '5574', city: 'Bregenz', region: 'Vorarlberg', lengths: [5, 6] },
  { areaCode: '5572', city: 'Dornbirn', region: 'Vorarlberg', lengths: [5, 6] },
  { areaCode: '2682', city: 'Eisenstadt', region: 'Burgenland', lengths: [5, 6] },
];

/** Switzerland: country code 41. Ortskennzahl without the trunk 0; subscriber = 7 digits. */
const CH_LOCAL = [
  { areaCode: '44', city: 'Zürich', region: 'ZH' },
  { areaCode: '52', city: 'Winterthur', region: 'ZH' },
  { areaCode: '22', city: 'Genève', region: 'GE' },
  { areaCode: '31', city: 'Bern', region: 'BE' },
  { areaCode: '33', city: 'Thun', region: 'BE' },
  { areaCode: '61', city: 'Basel', region: 'BS' },
  { areaCode: '21', city: 'Lausanne', region: 'VD' },
  { areaCode: '24', city: 'Yverdon-les-Bains', region: 'VD' },
  { areaCode: '41', city: 'Luzern', region: 'LU' },
  { areaCode: '71', city: 'St. Gallen', region: 'SG' },
  { areaCode: '91', city: 'Lugano', region: 'TI' },
  { areaCode: '81', city: 'Chur', region: 'GR' },
  { areaCode: '32', city: 'Neuchâtel', region: 'NE' },
  { areaCode: '26', city: 'Fribourg', region: 'FR' },
  { areaCode: '27', city: 'Sion', region: 'VS' },
  { areaCode: '62', city: 'Aarau', region: 'AG' },
  { areaCode: '56', city: 'Baden', region: 'AG' },
];

/**
 * United Arab Emirates: country code 971. These are ALL of the UAE's geographic area
 * codes (libphonenumber's AE fixed-line pattern is [2-4679][2-8]\d{6}: codes 2 3 4 6 7 9,
 * subscriber = 7 digits). Code 6 is shared by Sharjah, Ajman and Umm Al Quwain; the
 * numbers are split among the three emirates using their subscriber-number blocks.
 */
const AE_LOCAL = [
  { areaCode: '2', city: 'Abu Dhabi', region: 'Abu Dhabi' },
  { areaCode: '3', city: 'Al Ain', region: 'Abu Dhabi', prefix: '7' },
  { areaCode: '4', city: 'Dubai', region: 'Dubai' },
  { areaCode: '6', city: 'Sharjah', region: 'Sharjah', prefix: '5' },
  { areaCode: '6', city: 'Ajman', region: 'Ajman', prefix: '74' },
  { areaCode: '6', city: 'Umm Al Quwain', region: 'Umm Al Quwain', prefix: '76' },
  { areaCode: '7', city: 'Ras Al Khaimah', region: 'Ras Al Khaimah', prefix: '2' },
  { areaCode: '9', city: 'Fujairah', region: 'Fujairah', prefix: '2' },
];

/** NANP toll-free codes (shared by the US and Canada). */
const NANP_TOLL_FREE = ['800', '833', '844', '855', '866', '877', '888'];

/**
 * Per-country settings. Prices are in minor units of the currency (cents / Rappen / fils),
 * fixed per country and number type. Countries are generated in this order; the order
 * matters for US/CA, which share the NANP toll-free space (see generateTollFree).
 */
const COUNTRIES = [
  {
    country: 'US',
    callingCode: '1',
    currency: 'USD',
    seed: 0x5b0a0001,
    local: US_LOCAL,
    localCost: 115,
    tollFree: NANP_TOLL_FREE.map((areaCode) => ({ areaCode, lengths: [7], perPrefix: 40 })),
    tollFreeCost: 215,
  },
  {
    country: 'CA',
    callingCode: '1',
    currency: 'CAD',
    seed: 0x5b0a0002,
    local: CA_LOCAL,
    localCost: 115,
    tollFree: NANP_TOLL_FREE.map((areaCode) => ({ areaCode, lengths: [7], perPrefix: 40 })),
    tollFreeCost: 215,
  },
  {
    // Germany: 0800 + 7 digits.
    country: 'DE',
    callingCode: '49',
    currency: 'EUR',
    seed: 0x5b0a0003,
    local: DE_LOCAL,
    localCost: 100,
    tollFree: [{ areaCode: '800', lengths: [7], perPrefix: 150 }],
    tollFreeCost: 1500,
  },
  {
    // Austria: 0800 + 6 digits.
    country: 'AT',
    callingCode: '43',
    currency: 'EUR',
    seed: 0x5b0a0004,
    local: AT_LOCAL,
    localCost: 100,
    tollFree: [{ areaCode: '800', lengths: [6], perPrefix: 150 }],
    tollFreeCost: 1500,
  },
  {
    // Switzerland: 0800 + 6 digits.
    country: 'CH',
    callingCode: '41',
    currency: 'CHF',
    seed: 0x5b0a0005,
    local: CH_LOCAL,
    localCost: 100,
    tollFree: [{ areaCode: '800', lengths: [6], perPrefix: 150 }],
    tollFreeCost: 1500,
  },
  {
    // UAE: 800 + a variable number of digits (800 xxxx, 800 xxxxx, 800 xxx xxx are all in use).
    country: 'AE',
    callingCode: '971',
    currency: 'AED',
    seed: 0x5b0a0006,
    local: AE_LOCAL,
    localCost: 2500,
    tollFree: [{ areaCode: '800', lengths: [4, 5, 6], perPrefix: 150 }],
    tollFreeCost: 9000,
  },
];

/** Target number of local numbers per country, split evenly over that country's rows. */
const LOCAL_PER_COUNTRY = 2400;

const HEADER = 'phoneNumber,countryCode,numberType,areaCode,city,region,monthlyCost,currency';
const OUT_DIR = new URL('../fixtures/inventory/', import.meta.url);
const NANP = new Set(['US', 'CA']);

// ---------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------

/** mulberry32: tiny, fast, deterministic 32-bit PRNG. Returns floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randInt = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1)); // inclusive
const pick = (rng, arr) => arr[Math.floor(rng() * arr.length)];
const digits = (rng, n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randInt(rng, 0, 9));
  return s;
};

// ---------------------------------------------------------------------------------------
// Candidate construction
// ---------------------------------------------------------------------------------------

/**
 * NANP subscriber number NXX-XXXX. Exchange (NXX) never starts with 0/1, is never an N11
 * service code (211..911) and is never 555 (555-01xx is the fictional range and the rest
 * of 555 is reserved for directory/information services, so the whole exchange is avoided).
 */
function nanpSubscriber(rng) {
  for (;;) {
    const nxx = String(randInt(rng, 2, 9)) + digits(rng, 2);
    if (nxx[1] === '1' && nxx[2] === '1') continue; // N11
    if (nxx === '555') continue;
    return nxx + digits(rng, 4);
  }
}

/** Non-NANP subscriber: optional fixed prefix, first free digit 2-9 for local, 1-9 for toll-free. */
function subscriber(rng, length, prefix = '', firstDigitMin = 2) {
  if (prefix.length >= length) throw new Error(`prefix ${prefix} too long for length ${length}`);
  const first = prefix.length === 0 ? String(randInt(rng, firstDigitMin, 9)) : '';
  return prefix + first + digits(rng, length - prefix.length - first.length);
}

// ---------------------------------------------------------------------------------------
// Validation (libphonenumber-js, max metadata)
// ---------------------------------------------------------------------------------------

const LOCAL_TYPES = new Set(['FIXED_LINE', 'FIXED_LINE_OR_MOBILE']);

/**
 * Region-restricted validity, the equivalent of Google libphonenumber's
 * isValidNumberForRegion(number, region): the national number is checked against
 * `region`'s own numbering plan. (libphonenumber-js 1.13 no longer exports
 * isValidNumberForRegion from /max, and its legacy root export resolves the country
 * first, so it returns false for CA toll-free numbers.)
 */
export function regionType(nationalNumber, region) {
  const pn = new CorePhoneNumber(region, nationalNumber, maxMetadata);
  return pn.isValid() ? pn.getType() : undefined;
}

/**
 * Returns null if `e164` is acceptable for (country, numberType), otherwise a short
 * reason string. NANP toll-free numbers are not tied to a country: libphonenumber-js
 * reports them with country 'US' (the main country of calling code 1). For CA toll-free
 * numbers we therefore accept a reported country of US or CA as long as the number is a
 * valid TOLL_FREE number under Canada's own numbering plan (regionType(..., 'CA')).
 */
export function rejectReason(e164, country, numberType) {
  const p = parsePhoneNumberFromString(e164);
  if (!p) return 'unparseable';
  if (!p.isValid()) return 'invalid';
  const type = p.getType();
  if (numberType === 'local') {
    if (p.country !== country) return `country ${p.country}`;
    if (!LOCAL_TYPES.has(type)) return `type ${type}`;
    return null;
  }
  if (type !== 'TOLL_FREE') return `type ${type}`;
  if (p.country === country) return null;
  if (country === 'CA' && p.country === 'US' && regionType(p.nationalNumber, 'CA') === 'TOLL_FREE') return null;
  return `country ${p.country}`;
}

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

/**
 * Draws `count` distinct valid numbers for one area-code row. `used` is the global set of
 * E.164 numbers already emitted (all countries), so there are no duplicates anywhere.
 */
function drawNumbers({ rng, cfg, row, numberType, count, used, stats }) {
  const out = [];
  const maxAttempts = count * 200;
  let attempts = 0;
  while (out.length < count) {
    if (++attempts > maxAttempts) {
      throw new Error(`${cfg.country} ${numberType} ${row.areaCode}: gave up after ${maxAttempts} attempts (${out.length}/${count})`);
    }
    let sub;
    if (NANP.has(cfg.country)) {
      sub = nanpSubscriber(rng);
    } else {
      const length = pick(rng, row.lengths ?? [7]);
      sub = subscriber(rng, length, row.prefix ?? '', numberType === 'local' ? 2 : 1);
    }
    const e164 = `+${cfg.callingCode}${row.areaCode}${sub}`;
    if (used.has(e164)) {
      stats.duplicates++;
      continue;
    }
    const reason = rejectReason(e164, cfg.country, numberType);
    if (reason) {
      const key = `${cfg.country} ${numberType} ${row.areaCode} len=${sub.length}: ${reason}`;
      stats.rejected.set(key, (stats.rejected.get(key) ?? 0) + 1);
      continue;
    }
    used.add(e164);
    out.push({
      phoneNumber: e164,
      countryCode: cfg.country,
      numberType,
      areaCode: row.areaCode,
      city: numberType === 'local' ? row.city : '',
      region: numberType === 'local' ? row.region : '',
      monthlyCost: numberType === 'local' ? cfg.localCost : cfg.tollFreeCost,
      currency: cfg.currency,
    });
  }
  return out;
}

function assertNoComma(value, where) {
  if (String(value).includes(',') || /[\r\n"]/.test(String(value))) {
    throw new Error(`field needs CSV quoting (${where}): ${JSON.stringify(value)}`);
  }
}

function toCsv(rows) {
  const lines = [HEADER];
  for (const r of rows) {
    const fields = [r.phoneNumber, r.countryCode, r.numberType, r.areaCode, r.city, r.region, r.monthlyCost, r.currency];
    fields.forEach((f) => assertNoComma(f, r.phoneNumber));
    lines.push(fields.join(','));
  }
  return lines.join('\n') + '\n';
}

/** Generates every country's file in memory. Returns { files: Map<name, csv>, summary }. */
export function generateAll() {
  const used = new Set();
  const stats = { duplicates: 0, rejected: new Map() };
  const files = new Map();
  const summary = [];
  for (const cfg of COUNTRIES) {
    const rng = mulberry32(cfg.seed);
    const rows = [];
    const n = cfg.local.length;
    const base = Math.floor(LOCAL_PER_COUNTRY / n);
    const extra = LOCAL_PER_COUNTRY % n;
    cfg.local.forEach((row, i) => {
      const count = base + (i < extra ? 1 : 0);
      rows.push(...drawNumbers({ rng, cfg, row, numberType: 'local', count, used, stats }));
    });
    for (const row of cfg.tollFree) {
      rows.push(...drawNumbers({ rng, cfg, row, numberType: 'toll-free', count: row.perPrefix, used, stats }));
    }
    // Plain code-unit order on the E.164 string (not localeCompare: locale-independent).
    rows.sort((a, b) => (a.phoneNumber < b.phoneNumber ? -1 : a.phoneNumber > b.phoneNumber ? 1 : 0));
    files.set(`${cfg.country}.csv`, toCsv(rows));
    summary.push({
      country: cfg.country,
      local: rows.filter((r) => r.numberType === 'local').length,
      tollFree: rows.filter((r) => r.numberType === 'toll-free').length,
      localAreaCodes: [...new Set(cfg.local.map((r) => r.areaCode))],
      tollFreePrefixes: cfg.tollFree.map((r) => r.areaCode),
    });
  }
  return { files, summary, stats };
}

function main(argv) {
  const check = argv.includes('--check');
  const verbose = argv.includes('--verbose');
  const { files, summary, stats } = generateAll();

  if (check) {
    const problems = [];
    for (const [name, csv] of files) {
      const url = new URL(name, OUT_DIR);
      if (!existsSync(url)) {
        problems.push(`${name}: missing`);
        continue;
      }
      const onDisk = readFileSync(url, 'utf8');
      if (onDisk !== csv) {
        const a = onDisk.split('\n');
        const b = csv.split('\n');
        let i = 0;
        while (i < Math.max(a.length, b.length) && a[i] === b[i]) i++;
        problems.push(`${name}: differs at line ${i + 1}\n  disk:      ${a[i] ?? '<EOF>'}\n  generated: ${b[i] ?? '<EOF>'}`);
      }
    }
    if (problems.length > 0) {
      console.error(`inventory fixtures are stale; run: node scripts/generate-inventory.mjs\n${problems.join('\n')}`);
      process.exit(1);
    }
    console.log(`inventory fixtures up to date (${files.size} files)`);
    return;
  }

  mkdirSync(OUT_DIR, { recursive: true });
  let bytes = 0;
  for (const [name, csv] of files) {
    writeFileSync(new URL(name, OUT_DIR), csv);
    bytes += Buffer.byteLength(csv);
  }
  for (const s of summary) {
    console.log(
      `${s.country}: ${s.local} local over ${s.localAreaCodes.length} area codes [${s.localAreaCodes.join(' ')}], ${s.tollFree} toll-free [${s.tollFreePrefixes.join(' ')}]`,
    );
  }
  console.log(`wrote ${files.size} files, ${bytes} bytes, to ${fileURLToPath(OUT_DIR)}`);
  const totalRejected = [...stats.rejected.values()].reduce((a, b) => a + b, 0);
  console.log(`candidates rejected by libphonenumber-js: ${totalRejected}; duplicate draws skipped: ${stats.duplicates}`);
  if (verbose) {
    for (const [k, v] of [...stats.rejected].sort()) console.log(`  ${k} x${v}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2));
}
