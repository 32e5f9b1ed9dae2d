/**
 * application/x-www-form-urlencoded bodies as carriers send them. Every
 * parameter is kept, repeated names included: Twilio signs all of them, and
 * new ones appear without notice (carriers.md).
 */
export type FormParams = Map<string, string[]>;

export function parseForm(raw: string): FormParams {
  const params: FormParams = new Map();
  for (const [k, v] of new URLSearchParams(raw)) {
    const list = params.get(k);
    if (list) list.push(v);
    else params.set(k, [v]);
  }
  return params;
}

/** The first value of a parameter, or undefined. */
export const first = (p: FormParams, name: string): string | undefined => p.get(name)?.[0];
