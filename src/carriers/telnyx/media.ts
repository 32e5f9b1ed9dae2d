/**
 * Telnyx media streaming, translated to and from Twilio Media Streams, the one
 * dialect assistants speak (carriers.md; Telnyx's AsyncAPI description of its
 * media WebSocket).
 *
 * From Telnyx, snake_case and not necessarily in order:
 *   {"event":"connected","version":"1.0.0"}
 *   {"event":"start","sequence_number":"1","stream_id":"...","start":{"user_id","call_control_id",
 *     "call_session_id","from","to","client_state","custom_parameters":{...},
 *     "media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}
 *   {"event":"media","sequence_number":"4","stream_id":"...","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"<base64>"}}
 *   {"event":"dtmf","sequence_number","stream_id","occurred_at","dtmf":{"digit":"1"}}
 *   {"event":"mark","sequence_number","stream_id","mark":{"name":"..."}}
 *   {"event":"stop","sequence_number","stream_id","stop":{"user_id","call_control_id"}}
 *   {"event":"error","stream_id","payload":{"code","title","detail"}}
 * To Telnyx (bidirectionalMode="rtp", PCMU): {"event":"media","media":{"payload"}},
 * {"event":"mark","mark":{"name"}}, {"event":"clear"}.
 *
 * Reordering: frames carry a sequence number that counts every event of the
 * stream. Frames are forwarded in that order: one that arrives early is held
 * until the gap before it closes, for at most `window` frames or `holdMs`
 * milliseconds (at 50 frames a second, 4 frames is 80 ms of audio); then the
 * gap is given up and the held frames go on. A frame that arrives after its
 * turn was given up, or twice, is dropped and counted (lateFrames): played
 * late, it would be heard as a click.
 */
import type { MediaDialect, MediaOutlets, MediaSession, StartFrame, TranslationStats } from '../carrier.js';

export interface ReorderOptions {
  /** Early frames held at most, before the gap is given up. */
  window: number;
  /** How long the first early frame is held, at most. */
  holdMs: number;
}

export const DEFAULT_REORDER: ReorderOptions = { window: 4, holdMs: 60 };

/** Base64 as Telnyx sends it (standard alphabet, padded). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SEQ = /^\d{1,15}$/;
const MAX_FRAMES_BEFORE_START = 16;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A JSON string literal of a value that must be a string ("" otherwise). */
const q = (v: unknown): string => JSON.stringify(typeof v === 'string' ? v : '');

const ENCODINGS: Readonly<Record<string, string>> = { PCMU: 'audio/x-mulaw', PCMA: 'audio/x-alaw' };

function parse(data: Buffer, isBinary: boolean): Json | undefined {
  if (isBinary) return undefined;
  try {
    return obj(JSON.parse(data.toString('utf8')));
  } catch {
    return undefined;
  }
}

export function telnyxMedia(reorder: ReorderOptions = DEFAULT_REORDER): MediaDialect {
  return {
    pathHint: '/media/telnyx',
    match: (path) => (path === '/media/telnyx' ? { kind: 'start' } : null),
    maxFramesBeforeStart: MAX_FRAMES_BEFORE_START,
    readStart(data, isBinary): StartFrame {
      const msg = parse(data, isBinary);
      if (!msg) return { kind: 'refuse', reason: 'protocol_violation' };
      // connected, or frames that overtook the start message: kept, and sorted once it comes.
      if (msg.event !== 'start') return { kind: 'wait' };
      const start = obj(msg.start);
      const p = obj(start?.custom_parameters);
      return { kind: 'start', callId: p?.callId, token: p?.token, carrierCallId: start?.call_control_id };
    },
    // Telnyx ids (`v3:...`) have no documented shape; anything printable and short.
    isCarrierCallId: (id) => /^[\x21-\x7e]{1,128}$/.test(id),
    binaryToCarrier: false,
    session: (stats, out) => new TelnyxSession(stats, out, reorder),
  };
}

class TelnyxSession implements MediaSession {
  private streamSid = '';
  private connectedSent = false;
  /** The sequence number expected next; null until the start message. */
  private next: number | null = null;
  /** Early frames, by sequence number, already translated. */
  private readonly held = new Map<number, string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly stats: TranslationStats,
    private readonly out: MediaOutlets,
    private readonly o: ReorderOptions,
  ) {}

  fromCarrier(data: Buffer, isBinary: boolean): void {
    const msg = parse(data, isBinary);
    if (!msg) return void this.stats.badFrames++;
    const event = msg.event;
    if (event === 'connected') {
      if (!this.connectedSent) this.out.toAssistant('{"event":"connected","protocol":"Call","version":"1.0.0"}', false);
      this.connectedSent = true;
      return;
    }
    if (event === 'error') return void this.stats.carrierErrors++;
    const seqText = str(msg.sequence_number);
    if (seqText === undefined || !SEQ.test(seqText)) return void this.stats.badFrames++;
    const seq = Number(seqText);
    if (event === 'start' && this.next === null) {
      this.streamSid = str(msg.stream_id) ?? '';
      const twilio = this.translate(msg, seqText);
      if (twilio === null) return void this.stats.badFrames++;
      if (!this.connectedSent) {
        // Assistants expect connected first; Telnyx's may not have come (or come late).
        this.out.toAssistant('{"event":"connected","protocol":"Call","version":"1.0.0"}', false);
        this.connectedSent = true;
      }
      this.emit(twilio);
      this.next = seq + 1;
      // Frames that overtook the start message: those behind it are late, the rest wait their turn.
      for (const s of [...this.held.keys()]) if (s < this.next) this.drop(s);
      this.drain();
      return;
    }
    const twilio = this.translate(msg, seqText);
    if (twilio === null) return void this.stats.badFrames++;
    if (this.next === null || seq > this.next) {
      if (this.held.has(seq)) return void this.stats.lateFrames++; // a duplicate
      this.held.set(seq, twilio);
      this.stats.reordered++;
      if (this.next !== null) this.waitForGap();
      if (event === 'stop') this.giveUpGaps(); // nothing comes after stop: flush in order
      return;
    }
    if (seq < this.next) return void this.stats.lateFrames++;
    this.emit(twilio);
    this.next = seq + 1;
    this.drain();
  }

  /** Sends the frames that are now in turn; gives up the gap if too many are held. */
  private drain(): void {
    for (;;) {
      const frame = this.held.get(this.next!);
      if (frame !== undefined) {
        this.held.delete(this.next!);
        this.emit(frame);
        this.next!++;
        continue;
      }
      if (this.held.size >= this.o.window) {
        this.next = Math.min(...this.held.keys());
        continue;
      }
      break;
    }
    if (this.held.size === 0) this.clearTimer();
  }

  private waitForGap(): void {
    if (this.held.size >= this.o.window) return this.drain();
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.giveUpGaps();
    }, this.o.holdMs);
    this.timer.unref();
  }

  /** Gives up every gap: the held frames go on, in order. */
  private giveUpGaps(): void {
    if (this.next === null || this.closed) return;
    while (this.held.size > 0) {
      this.next = Math.min(...this.held.keys());
      this.drain();
    }
  }

  private drop(seq: number): void {
    this.held.delete(seq);
    this.stats.lateFrames++;
  }

  private emit(frame: string): void {
    this.stats.translated++;
    this.out.toAssistant(frame, false);
  }

  /** The Twilio Media Streams frame for a Telnyx one, or null when it cannot be one. */
  private translate(msg: Json, seq: string): string | null {
    const sid = q(this.streamSid || msg.stream_id);
    switch (msg.event) {
      case 'media': {
        const m = obj(msg.media);
        const payload = str(m?.payload);
        if (!m || payload === undefined || !BASE64.test(payload)) return null;
        const track = str(m.track) === 'outbound' ? 'outbound' : 'inbound';
        // The payload is checked base64: it needs no escaping.
        return `{"event":"media","sequenceNumber":"${seq}","streamSid":${sid},"media":{"track":"${track}","chunk":${q(m.chunk)},"timestamp":${q(m.timestamp)},"payload":"${payload}"}}`;
      }
      case 'start': {
        const s = obj(msg.start);
        if (!s) return null;
        const f = obj(s.media_format);
        const encoding = str(f?.encoding) ?? 'PCMU';
        const params: Json = { ...obj(s.custom_parameters) };
        delete params.token; // a credential for this endpoint, of no use to the assistant
        return JSON.stringify({
          event: 'start',
          sequenceNumber: seq,
          streamSid: this.streamSid,
          start: {
            accountSid: str(s.user_id) ?? '',
            streamSid: this.streamSid,
            callSid: str(s.call_control_id) ?? '',
            tracks: ['inbound'],
            customParameters: params,
            mediaFormat: {
              encoding: ENCODINGS[encoding] ?? encoding,
              sampleRate: typeof f?.sample_rate === 'number' ? f.sample_rate : 8000,
              channels: typeof f?.channels === 'number' ? f.channels : 1,
            },
          },
        });
      }
      case 'dtmf': {
        const digit = str(obj(msg.dtmf)?.digit);
        if (digit === undefined) return null;
        return `{"event":"dtmf","sequenceNumber":"${seq}","streamSid":${sid},"dtmf":{"track":"inbound_track","digit":${q(digit)}}}`;
      }
      case 'mark': {
        const name = str(obj(msg.mark)?.name);
        if (name === undefined) return null;
        return `{"event":"mark","sequenceNumber":"${seq}","streamSid":${sid},"mark":{"name":${q(name)}}}`;
      }
      case 'stop': {
        const s = obj(msg.stop);
        return `{"event":"stop","sequenceNumber":"${seq}","streamSid":${sid},"stop":{"accountSid":${q(s?.user_id)},"callSid":${q(s?.call_control_id)}}}`;
      }
      default:
        return null;
    }
  }

  fromAssistant(data: Buffer, isBinary: boolean): void {
    const msg = parse(data, isBinary);
    switch (msg?.event) {
      case 'media': {
        const payload = str(obj(msg.media)?.payload);
        if (payload === undefined) break;
        this.stats.translated++;
        return this.out.toCarrier(`{"event":"media","media":{"payload":${JSON.stringify(payload)}}}`, false);
      }
      case 'mark': {
        const name = str(obj(msg.mark)?.name);
        if (name === undefined) break;
        this.stats.translated++;
        return this.out.toCarrier(`{"event":"mark","mark":{"name":${JSON.stringify(name)}}}`, false);
      }
      case 'clear':
        this.stats.translated++;
        return this.out.toCarrier('{"event":"clear"}', false);
    }
    this.stats.untranslatable++;
  }

  close(): void {
    this.closed = true;
    this.clearTimer();
    this.held.clear();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
