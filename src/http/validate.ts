/** Turns zod failures into one 400 whose message names every offending field. */
import { z } from 'zod';
import { AppError } from '../errors.js';

export function parse<S extends z.ZodType>(schema: S, data: unknown, where: 'body' | 'query' = 'body'): z.infer<S> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ field: i.path.length ? i.path.join('.') : where, message: i.message }));
  const message = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  throw new AppError('INVALID_REQUEST', message, { fields: issues });
}

export const id = z.string().min(1, 'must not be empty').max(128, 'is too long');

export const mediaUrl = z
  .string({ message: 'must be a string' })
  .max(2048, 'is too long')
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
