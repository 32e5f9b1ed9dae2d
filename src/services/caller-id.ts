/**
 * Outbound calls: which caller ID an assistant should use (api.md section 5).
 * Candidates are the active, unexpired numbers on the assistant; the one in
 * the same country as `to` first, then the same area code (local presence),
 * then the least recently used, so load spreads.
 */
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { newCall } from '../domain/call-status.js';
import { timeOrderedId } from '../domain/ids.js';
import { nationalNumberOf, parsePhone } from '../domain/phone.js';
import type { Call, PhoneNumber, Principal } from '../domain/types.js';
import type { AssistantService } from './assistants.js';
import type { Store } from './ports.js';

export class CallerIdService {
  constructor(
    private readonly store: Store,
    private readonly assistants: AssistantService,
    private readonly clock: Clock,
  ) {}

  /**
   * Picks the number and records the outbound call, pinned to the assistant.
   * `carrierFor` names the carrier a provider's numbers call out through.
   */
  async pick(
    p: Principal,
    assistantId: string,
    to: string,
    carrierFor: (provider: string) => string | undefined,
  ): Promise<{ call: Call; number: PhoneNumber }> {
    const assistant = await this.assistants.get(p, assistantId);
    const parsed = parsePhone(to);
    if (!parsed || !parsed.valid) throw new AppError('INVALID_PHONE_NUMBER', `to: "${to}" is not a valid phone number; write it in E.164, e.g. +14155550100.`);
    const toNational = nationalNumberOf(parsed.e164) ?? '';
    const now = this.clock.now();
    return this.store.transaction(async (tx) => {
      // One pick at a time per team: least-recently-used stays exact under concurrency.
      await tx.teams.lock(assistant.teamId);
      const candidates = await tx.numbers.callerIdCandidates(assistant.id, now);
      if (candidates.length === 0) {
        throw new AppError('NO_CALLER_ID', `Assistant ${assistant.id} has no active number to call from; assign one first.`);
      }
      const score = (n: PhoneNumber) =>
        (n.countryCode === parsed.country ? 2 : 0) +
        (n.numberType === 'local' && n.countryCode === parsed.country && toNational.startsWith(n.areaCode) ? 1 : 0);
      candidates.sort((a, b) => score(b) - score(a) || (a.lastUsedAt ?? -1) - (b.lastUsedAt ?? -1) || (a.id < b.id ? -1 : 1));
      const number = candidates[0]!;
      const carrier = carrierFor(number.provider);
      if (!carrier)
        throw new AppError('NO_CALLER_ID', `Number ${number.e164} comes from provider ${number.provider}, which no carrier here calls out through.`);
      // Strictly increasing use stamps keep "least recently used" exact even
      // when several calls start within one millisecond.
      const lastUsed = Math.max(now, ...candidates.map((c) => (c.lastUsedAt ?? 0) + 1));
      await tx.numbers.patchQuiet(number.id, { lastUsedAt: lastUsed });
      const call = newCall({
        id: timeOrderedId(now),
        teamId: assistant.teamId,
        direction: 'outbound',
        carrier,
        carrierCallId: null,
        from: number.e164,
        to: parsed.e164,
        phoneNumberId: number.id,
        assistantId: assistant.id,
        mediaUrl: assistant.mediaUrl,
        status: 'routed',
        reason: null,
        createdAt: now,
      });
      await tx.calls.insertBatch([call]);
      return { call, number };
    });
  }
}
