// docs/errors.md is the catalogue API users read; src/errors.ts ERRORS is the
// one the code uses. This test fails when the two drift apart (fastify's
// docs-vs-codes check), and when source code throws a code ERRORS lacks.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CLOSE_REASONS, ERRORS, AppError } from '../src/errors.js';
import { PROJECT_ROOT } from '../src/paths.js';

const DOC = join(PROJECT_ROOT, 'docs', 'errors.md');
const SRC = join(PROJECT_ROOT, 'src');

interface DocRow {
  code: string;
  status: number;
  when: string;
  example: string;
  line: number;
}

/**
 * The catalogue rows of the markdown: table lines whose first cell is a
 * backticked UPPER_CASE code. Other tables or prose cannot match by accident.
 */
function parseCatalogue(markdown: string): DocRow[] {
  const rows: DocRow[] = [];
  markdown.split('\n').forEach((text, i) => {
    const m = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(\d{3})\s*\|(.*)\|\s*$/.exec(text);
    if (!m) return;
    const rest = m[3]!.split('|').map((c) => c.trim());
    rows.push({ code: m[1]!, status: Number(m[2]), when: rest[0] ?? '', example: rest[1] ?? '', line: i + 1 });
  });
  return rows;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every code used as `new AppError('X'` / `AppError("X"` / `` AppError(`X` ``, with where it was found. */
function appErrorCodes(source: string): Array<{ code: string; line: number }> {
  const out: Array<{ code: string; line: number }> = [];
  const re = /\bAppError\(\s*(['"`])([^'"`]*)\1/g;
  for (const m of source.matchAll(re)) {
    out.push({ code: m[2]!, line: source.slice(0, m.index).split('\n').length });
  }
  return out;
}

const markdown = readFileSync(DOC, 'utf8');
const rows = parseCatalogue(markdown);
const codes = Object.keys(ERRORS) as Array<keyof typeof ERRORS>;

describe('docs/errors.md catalogue', () => {
  it('has a table the parser can read', () => {
    // Guards the guard: if the table format changed and nothing parsed, every
    // check below would pass vacuously.
    expect(rows.length).toBeGreaterThanOrEqual(codes.length);
  });

  it.each(codes)('documents %s with the same HTTP status', (code) => {
    const row = rows.find((r) => r.code === code);
    expect(row, `${code} is in ERRORS but not in docs/errors.md`).toBeDefined();
    expect(row!.status, `docs/errors.md line ${row!.line}`).toBe(ERRORS[code].status);
    expect(row!.when.length, `${code}: "when it happens" is empty`).toBeGreaterThan(0);
    expect(row!.example.length, `${code}: example message is empty`).toBeGreaterThan(0);
  });

  it('lists only codes that exist in ERRORS, each once', () => {
    const unknown = rows.filter((r) => !(r.code in ERRORS)).map((r) => `${r.code} (line ${r.line})`);
    expect(unknown, 'codes in docs/errors.md that ERRORS does not have').toEqual([]);
    const seen = rows.map((r) => r.code);
    expect(
      seen.filter((c, i) => seen.indexOf(c) !== i),
      'codes listed twice',
    ).toEqual([]);
  });

  it('states the error body shape and the carrier endpoint errors', () => {
    expect(markdown).toMatch(/"error":\s*\{/);
    for (const key of ['"code"', '"message"', '"details"']) expect(markdown).toContain(key);
    expect(markdown).toMatch(/403 `INVALID_SIGNATURE`/);
    expect(markdown).toMatch(/503 `UNAVAILABLE`/);
  });

  it('parser rejects drift it is meant to catch', () => {
    // The checks above are only as good as the parser; show it reads a wrong
    // status and an unknown code from a table like ours.
    const drifted = parseCatalogue(
      ['| code | status | when | example |', '|---|---|---|---|', '| `NOT_FOUND` | 400 | x | y |', '| `NO_SUCH_CODE` | 418 | x | y |'].join('\n'),
    );
    expect(drifted.map((r) => [r.code, r.status])).toEqual([
      ['NOT_FOUND', 400],
      ['NO_SUCH_CODE', 418],
    ]);
    expect(drifted[0]!.status).not.toBe(ERRORS.NOT_FOUND.status);
    expect('NO_SUCH_CODE' in ERRORS).toBe(false);
  });
});

describe('AppError usages in src/', () => {
  const files = tsFiles(SRC);
  const usages = files.flatMap((f) => appErrorCodes(readFileSync(f, 'utf8')).map((u) => ({ ...u, where: `${relative(PROJECT_ROOT, f)}:${u.line}` })));

  it('finds the usages (the scan is not vacuous)', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(usages.length).toBeGreaterThan(0);
  });

  it('uses only codes from ERRORS', () => {
    const bad = usages.filter((u) => !(u.code in ERRORS)).map((u) => `${u.where}: ${JSON.stringify(u.code)}`);
    expect(bad).toEqual([]);
  });

  it('the scanner sees both quote styles and string-built codes', () => {
    const found = appErrorCodes(`new AppError('A_B', 'x'); AppError("C", y); new AppError(\`D_\${x}\`)`).map((u) => u.code);
    expect(found).toEqual(['A_B', 'C', 'D_${x}']);
  });

  it('AppError takes its status from the catalogue', () => {
    for (const code of codes) expect(new AppError(code, 'm').status).toBe(ERRORS[code].status);
  });
});

describe('docs/errors.md close reasons', () => {
  // | `code` | 1000 | yes | when |
  const closeRows = markdown
    .split('\n')
    .map((line) => /^\|\s*`([a-z][a-z_]*)`\s*\|\s*(\d{4})\s*\|\s*(yes|no)\s*\|(.*)\|\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ code: m[1]!, close: Number(m[2]), recorded: m[3] === 'yes', when: m[4]!.trim() }));
  const reasons = Object.keys(CLOSE_REASONS) as Array<keyof typeof CLOSE_REASONS>;

  it('has a table the parser can read', () => {
    expect(closeRows.length).toBeGreaterThanOrEqual(reasons.length);
  });

  it.each(reasons)('documents %s with the same close status and recording', (code) => {
    const row = closeRows.find((r) => r.code === code);
    expect(row, `${code} is in CLOSE_REASONS but not in docs/errors.md`).toBeDefined();
    expect(row!.close).toBe(CLOSE_REASONS[code].close);
    expect(row!.recorded).toBe(CLOSE_REASONS[code].recorded);
    expect(row!.when.length).toBeGreaterThan(0);
  });

  it('lists only reasons that exist, each once', () => {
    expect(closeRows.filter((r) => !(r.code in CLOSE_REASONS)).map((r) => r.code)).toEqual([]);
    const seen = closeRows.map((r) => r.code);
    expect(seen.filter((c, i) => seen.indexOf(c) !== i)).toEqual([]);
  });

  it('every close in src/media uses a catalogue code, never a free string', () => {
    const media = tsFiles(join(SRC, 'media'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // ws.close(<number>, '<text>') with a literal reason would bypass the catalogue.
    expect(media).not.toMatch(/\.close\(\s*\d{4}\s*,\s*['"`]/);
    for (const m of media.matchAll(/\b(?:end|close|stop)\(\s*'([a-z_]+)'/g)) expect(Object.keys(CLOSE_REASONS), m[0]).toContain(m[1]);
  });
});
