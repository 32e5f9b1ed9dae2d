// The TwiML schema check of `npm test` (xmllint-wasm, test/carriers/twiml-schema.test.ts)
// agrees with Debian's own xmllint (package libxml2-utils) on the same
// documents: everything the gateway renders, the accepted extras, and every
// broken document. So the WebAssembly build is not a validator of its own
// making: the system's libxml2 gives the same verdicts.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { TWIML_XSD, validateTwimlAll } from '../helpers/twiml-schema.js';
import { ACCEPTED_SAMPLES, BROKEN_SAMPLES, gatewaySamples, rendererSamples, type BrokenSample, type TwimlSample } from '../helpers/twiml-samples.js';

/** `xmllint --noout --schema twiml.xsd -` with the document on stdin: exit code and stderr. */
function debianXmllint(xml: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('xmllint', ['--noout', '--nonet', '--schema', TWIML_XSD, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stderr }));
    p.stdin.end(xml);
  });
}

let samples: Array<TwimlSample & { error?: RegExp }>;

beforeAll(async () => {
  samples = [...rendererSamples(), ...(await gatewaySamples()), ...ACCEPTED_SAMPLES, ...BROKEN_SAMPLES];
});

describe("Debian's xmllint and xmllint-wasm", () => {
  it('xmllint is libxml2 from Debian', async () => {
    const v = await new Promise<string>((resolve) => {
      const p = spawn('xmllint', ['--version'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let out = '';
      p.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
      p.once('close', () => resolve(out));
    });
    expect(v).toMatch(/using libxml version \d+/);
  });

  it('give the same verdict on every document, valid and broken', async () => {
    const wasm = await validateTwimlAll(samples.map((s) => s.xml));
    const rows: string[] = [];
    let valid = 0;
    for (const [i, s] of samples.entries()) {
      const deb = await debianXmllint(s.xml);
      // 0: valid; 3: not valid for the schema; 1: not well-formed.
      expect([0, 1, 3], `${s.name}: ${deb.stderr}`).toContain(deb.code);
      expect(deb.code === 0, `${s.name}: Debian says ${deb.code}, ${deb.stderr}; wasm says ${JSON.stringify(wasm[i])}`).toBe(wasm[i]!.valid);
      if (deb.code === 0) valid++;
      rows.push(`${deb.code === 0 ? 'valid  ' : 'refused'} ${s.name}`);
    }
    // Both kinds are there, so agreement is not agreement on one answer.
    expect(valid).toBe(samples.length - BROKEN_SAMPLES.length);
    console.log(rows.join('\n'));
  });

  it("name the same problem in each broken document (Debian's messages match the expectations too)", async () => {
    for (const s of samples.filter((x): x is BrokenSample => 'error' in x)) {
      const deb = await debianXmllint(s.xml);
      expect(deb.code, s.name).not.toBe(0);
      expect(deb.stderr, s.name).toMatch(s.error);
    }
  });
});
