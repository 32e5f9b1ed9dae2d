/** Opaque keyset cursors: base64url of "createdAt:id". */
import { AppError } from '../errors.js';

export const encodeCursor = (row: { createdAt: number; id: string }): string => Buffer.from(`${row.createdAt}:${row.id}`).toString('base64url');

export function decodeCursor(cursor: string): { createdAt: number; id: string } {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{1,15}):(.{1,128})$/.exec(raw);
  if (!m) throw new AppError('INVALID_REQUEST', 'cursor: is not a cursor this API returned.');
  return { createdAt: Number(m[1]), id: m[2]! };
}
