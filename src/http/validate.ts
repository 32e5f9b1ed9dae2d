/** Turns zod failures into one 400 whose message names every offending field. */
import { z } from 'zod';
import { AppError } from '../errors.js';

export function parse<S extends z.ZodType>(schema: S, data: unknown, where: 'body' | 'query' = 'body'): z.infer<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : where,
    // A field that is absent is "required", whatever type it should have had.
    message: i.code === 'invalid_type' && i.path.length > 0 && valueAt(data, i.path) === undefined ? `is required (${i.message})` : i.message,
  }));
  const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  throw new AppError('INVALID_REQUEST', message, { fields: issues });
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

export const id = z.string().min(1, 'must not be empty').max(128, 'is too long');

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text we can store and show back as it was sent: no C0/C1 control characters
 * (NUL, CR, LF, ...) and no unpaired UTF-16 surrogates, which JSON allows but
 * SQLite and PostgreSQL would store replaced (U+FFFD) or refuse.
 */
export const wellFormed = (v: string): boolean => !LONE_SURROGATE.test(v) && !/[\u0000-\u001f\u007f-\u009f]/.test(v);

/** A person-facing name: trimmed, 1–200 characters, well formed. */
export const name = z
  .string({ message: 'must be a string' })
  // Checked before trimming: "Agent\r\n" is refused, not silently stored as "Agent".
  .refine(wellFormed, 'must be valid text: no control characters (NUL, CR, LF, ...) or unpaired surrogates')
  .transform((v) => v.trim())
  .pipe(z.string().min(1, 'must not be empty').max(200, 'is too long'));

export const mediaUrl = z
  .string({ message: 'must be a string' })
  .max(2048, 'is too long')
  // Checked on the raw string: the URL parser silently drops tabs and
  // newlines and trims control characters, so what we would store and what
  // was sent would differ.
  .refine((v) => !/[\u0000-\u0020\u007f-\u009f]/.test(v) && !LONE_SURROGATE.test(v), 'must not contain spaces or control characters (NUL, CR, LF, ...)')
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'ws:' || u.protocol === 'wss:') && u.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'must be a ws:// or wss:// URL');

export const body = (data: unknown): Record<string, unknown> => {
  if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new AppError('INVALID_REQUEST', 'body: must be a JSON object.');
  }
  return data as Record<string, unknown>;
};
