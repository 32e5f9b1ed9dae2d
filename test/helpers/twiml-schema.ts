/**
 * TwiML (and Telnyx TeXML) checked by a real XML validator: libxml2's
 * xmllint, compiled to WebAssembly (the `xmllint-wasm` package), against
 * test/fixtures/twiml.xsd, the schema of the subset the gateway emits. No
 * system package needed, so `npm test` can use it; the integration tier shows
 * that Debian's own xmllint gives the same verdicts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateXML } from 'xmllint-wasm';

export const TWIML_XSD = fileURLToPath(new URL('../fixtures/twiml.xsd', import.meta.url));

const schema = { fileName: 'twiml.xsd', contents: readFileSync(TWIML_XSD, 'utf8') };

export interface TwimlVerdict {
  valid: boolean;
  /** xmllint's messages without file name and line (parser errors and schema violations). */
  errors: string[];
}

/** Validates one document against the TwiML schema (well-formedness included). */
export async function validateTwiml(xml: string): Promise<TwimlVerdict> {
  return (await validateTwimlAll([xml]))[0]!;
}

/**
 * Validates many documents in one run of the validator (each run instantiates
 * the WebAssembly module, ~50 ms): one verdict per document, in order.
 */
export async function validateTwimlAll(xmls: readonly string[]): Promise<TwimlVerdict[]> {
  if (xmls.length === 0) return [];
  const files = xmls.map((contents, i) => ({ fileName: `twiml-${i}.xml`, contents }));
  const r = await validateXML({ xml: files, schema });
  // xmllint prints "<file> validates" for each valid file; a file that is not
  // well-formed gets parser errors and no verdict line at all.
  const validated = new Set(
    r.rawOutput
      .split('\n')
      .filter((l) => l.endsWith(' validates'))
      .map((l) => l.slice(0, -' validates'.length)),
  );
  return files.map((f) => ({
    valid: validated.has(f.fileName),
    errors: r.errors.filter((e) => e.loc?.fileName === f.fileName).map((e) => e.message),
  }));
}

/**
 * The document as an XML parser reads it, in canonical form (W3C C14N):
 * attribute values with entities resolved and only `&amp; &lt; &quot;` and
 * whitespace character references re-escaped. Throws if it is not well-formed.
 */
export async function canonicalXml(xml: string): Promise<string> {
  const r = await validateXML({ xml: { fileName: 'doc.xml', contents: xml }, normalization: 'c14n' });
  if (!r.valid) throw new Error(`not well-formed: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.normalized;
}

/** Every attribute of every `element` in a document, as a parser reads them (via C14N). */
export async function attributesOf(xml: string, element: string): Promise<Array<Record<string, string>>> {
  const c14n = await canonicalXml(xml);
  const un = (s: string) =>
    s.replace(/&(amp|lt|quot|#x9|#xA|#xD);/g, (_m, e: string) => ({ amp: '&', lt: '<', quot: '"', '#x9': '\t', '#xA': '\n', '#xD': '\r' })[e]!);
  const out: Array<Record<string, string>> = [];
  for (const tag of c14n.matchAll(new RegExp(`<${element}((?:\\s+[\\w:.-]+="[^"]*")*)>`, 'g'))) {
    const attrs: Record<string, string> = {};
    for (const a of tag[1]!.matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = un(a[2]!);
    out.push(attrs);
  }
  return out;
}
