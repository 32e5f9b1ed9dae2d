// Telnyx's media dialect, translated to Twilio Media Streams and back
// (src/carriers/telnyx/media.ts): field by field, put back in order within
// the reorder window, and hostile frames dropped with a counter.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newTranslationStats, type MediaSession, type TranslationStats } from '../../src/carriers/carrier.js';
import { telnyxMedia } from '../../src/carriers/telnyx/media.js';
import { TELNYX_CONNECTED, TELNYX_STREAM_ID, telnyxMediaFrame, telnyxStart, telnyxStop } from '../helpers/media.js';

interface Harness {
  session: MediaSession;
  stats: TranslationStats;
  toAssistant: any[];
  toCarrier: string[];
  send(...frames: Array<string | Buffer>): void;
  /** Sequence numbers of the frames the assistant got (start is 1). */
  seqs(): number[];
}

function harness(window = 4, holdMs = 60): Harness {
  const stats = newTranslationStats();
  const toAssistant: any[] = [];
  const toCarrier: string[] = [];
  const session = telnyxMedia({ window, holdMs }).session(stats, {
    toAssistant: (data, isBinary) => {
      expect(isBinary).toBe(false);
      toAssistant.push(JSON.parse(data));
    },
    toCarrier: (data) => toCarrier.push(data),
  })!;
  return {
    session,
    stats,
    toAssistant,
    toCarrier,
    send: (...frames) => {
      for (const f of frames) session.fromCarrier(Buffer.isBuffer(f) ? f : Buffer.from(f), Buffer.isBuffer(f));
    },
    seqs: () => toAssistant.filter((m) => m.sequenceNumber).map((m) => Number(m.sequenceNumber)),
  };
}

describe('Telnyx → Twilio Media Streams', () => {
  it('translates connected, start, media, dtmf, mark and stop field by field', () => {
    const h = harness();
    h.send(
      TELNYX_CONNECTED,
      telnyxStart('call-1', 'secret-token', 'v3:abc'),
      telnyxMediaFrame(2),
      JSON.stringify({ event: 'dtmf', sequence_number: '3', stream_id: TELNYX_STREAM_ID, occurred_at: '2026-11-30T07:00:00Z', dtmf: { digit: '7' } }),
      JSON.stringify({ event: 'mark', sequence_number: '4', stream_id: TELNYX_STREAM_ID, mark: { name: 'm"1' } }),
      telnyxStop(5, 'v3:abc'),
    );
    const payload = Buffer.alloc(160, 2).toString('base64');
    expect(h.toAssistant).toEqual([
      { event: 'connected', protocol: 'Call', version: '1.0.0' },
      {
        event: 'start',
        sequenceNumber: '1',
        streamSid: TELNYX_STREAM_ID,
        start: {
          accountSid: '3e6f995f-85f7-4705-9741-53b116d28237',
          streamSid: TELNYX_STREAM_ID,
          callSid: 'v3:abc',
          tracks: ['inbound'],
          customParameters: { callId: 'call-1' },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      },
      { event: 'media', sequenceNumber: '2', streamSid: TELNYX_STREAM_ID, media: { track: 'inbound', chunk: '1', timestamp: '20', payload } },
      { event: 'dtmf', sequenceNumber: '3', streamSid: TELNYX_STREAM_ID, dtmf: { track: 'inbound_track', digit: '7' } },
      { event: 'mark', sequenceNumber: '4', streamSid: TELNYX_STREAM_ID, mark: { name: 'm"1' } },
      { event: 'stop', sequenceNumber: '5', streamSid: TELNYX_STREAM_ID, stop: { accountSid: '3e6f995f-85f7-4705-9741-53b116d28237', callSid: 'v3:abc' } },
    ]);
    expect(h.stats).toMatchObject({ translated: 5, badFrames: 0, lateFrames: 0, reordered: 0 });
  });

  it('the media token never reaches the assistant', () => {
    const h = harness();
    h.send(telnyxStart('call-1', 'secret-token'));
    expect(JSON.stringify(h.toAssistant)).not.toContain('secret-token');
  });

  it('sends connected first even when Telnyx never sent one', () => {
    const h = harness();
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(2));
    expect(h.toAssistant.map((m) => m.event)).toEqual(['connected', 'start', 'media']);
  });

  it('PCMA is announced as audio/x-alaw', () => {
    const h = harness();
    const start = JSON.parse(telnyxStart('c', 't'));
    start.start.media_format.encoding = 'PCMA';
    h.send(JSON.stringify(start));
    expect(h.toAssistant[1].start.mediaFormat.encoding).toBe('audio/x-alaw');
  });
});

describe('reordering', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('puts frames that arrive out of order back in order', () => {
    const h = harness();
    h.send(telnyxStart('c', 't'));
    for (const seq of [2, 4, 3, 6, 5, 7, 9, 8]) h.send(telnyxMediaFrame(seq));
    expect(h.seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.stats).toMatchObject({ lateFrames: 0, reordered: 3 });
  });

  it('frames that overtook the start message wait for it', () => {
    const h = harness();
    h.send(telnyxMediaFrame(3), TELNYX_CONNECTED, telnyxMediaFrame(2), telnyxStart('c', 't'), telnyxMediaFrame(4));
    expect(h.toAssistant.map((m) => m.event)).toEqual(['connected', 'start', 'media', 'media', 'media']);
    expect(h.seqs()).toEqual([1, 2, 3, 4]);
  });

  it('gives a gap up once the window is full, and drops the frame if it comes later', () => {
    const h = harness(4);
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(2));
    for (const seq of [4, 5, 6]) h.send(telnyxMediaFrame(seq)); // 3 is missing
    expect(h.seqs()).toEqual([1, 2]);
    h.send(telnyxMediaFrame(7)); // the 4th held frame: the window is full
    expect(h.seqs()).toEqual([1, 2, 4, 5, 6, 7]);
    h.send(telnyxMediaFrame(3)); // too late: played now it would be a click
    expect(h.seqs()).toEqual([1, 2, 4, 5, 6, 7]);
    expect(h.stats.lateFrames).toBe(1);
  });

  it('gives a gap up after holdMs when the stream goes quiet', () => {
    const h = harness(4, 60);
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(2), telnyxMediaFrame(4));
    expect(h.seqs()).toEqual([1, 2]);
    vi.advanceTimersByTime(59);
    expect(h.seqs()).toEqual([1, 2]);
    vi.advanceTimersByTime(1);
    expect(h.seqs()).toEqual([1, 2, 4]);
  });

  it('drops duplicates', () => {
    const h = harness();
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(2), telnyxMediaFrame(2), telnyxMediaFrame(4), telnyxMediaFrame(4), telnyxMediaFrame(3));
    expect(h.seqs()).toEqual([1, 2, 3, 4]);
    expect(h.stats.lateFrames).toBe(2);
  });

  it('stop flushes what is held, in order', () => {
    const h = harness();
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(3), telnyxStop(5));
    expect(h.toAssistant.map((m) => m.event)).toEqual(['connected', 'start', 'media', 'stop']);
  });

  it('after close, a pending gap timer sends nothing', () => {
    const h = harness();
    h.send(telnyxStart('c', 't'), telnyxMediaFrame(3));
    h.session.close();
    vi.advanceTimersByTime(1000);
    expect(h.seqs()).toEqual([1]);
  });
});

describe('hostile frames are dropped and counted; the session goes on', () => {
  it.each([
    ['not JSON', 'not json'],
    ['a JSON array', '[1,2]'],
    ['binary', Buffer.from(telnyxMediaFrame(2))],
    ['an unknown event', JSON.stringify({ event: 'surprise', sequence_number: '2', stream_id: TELNYX_STREAM_ID })],
    ['bad base64', JSON.stringify({ event: 'media', sequence_number: '2', media: { payload: 'not*base64' } })],
    ['base64 with a bad length', JSON.stringify({ event: 'media', sequence_number: '2', media: { payload: 'abcde' } })],
    ['a payload that is not a string', JSON.stringify({ event: 'media', sequence_number: '2', media: { payload: 7 } })],
    ['no media object', JSON.stringify({ event: 'media', sequence_number: '2' })],
    ['no sequence number', JSON.stringify({ event: 'media', media: { payload: 'AAAA' } })],
    ['a sequence number that is not digits', JSON.stringify({ event: 'media', sequence_number: '1e3', media: { payload: 'AAAA' } })],
    ['a prototype key', '{"__proto__":{"event":"media"},"sequence_number":"2"}'],
  ])('%s', (_what, frame) => {
    const h = harness();
    h.send(telnyxStart('c', 't'), frame, telnyxMediaFrame(2), telnyxMediaFrame(3));
    expect(h.seqs()).toEqual([1, 2, 3]);
    expect(h.stats.badFrames).toBe(1);
  });

  it('an error event is counted apart, not forwarded', () => {
    const h = harness();
    h.send(
      telnyxStart('c', 't'),
      JSON.stringify({ event: 'error', stream_id: TELNYX_STREAM_ID, payload: { code: 100002, title: 'Unknown error', detail: 'x' } }),
      telnyxMediaFrame(2),
    );
    expect(h.seqs()).toEqual([1, 2]);
    expect(h.stats).toMatchObject({ carrierErrors: 1, badFrames: 0 });
  });
});

describe('Twilio Media Streams → Telnyx', () => {
  it('media, mark and clear lose the streamSid; anything else is not sent', () => {
    const h = harness();
    const from = (m: unknown) => h.session.fromAssistant(Buffer.from(JSON.stringify(m)), false);
    from({ event: 'media', streamSid: 'MZ1', media: { payload: 'AAAA' } });
    from({ event: 'mark', streamSid: 'MZ1', mark: { name: 'done' } });
    from({ event: 'clear', streamSid: 'MZ1' });
    from({ event: 'dance', streamSid: 'MZ1' });
    from({ event: 'media', streamSid: 'MZ1' });
    h.session.fromAssistant(Buffer.from('not json'), false);
    expect(h.toCarrier).toEqual(['{"event":"media","media":{"payload":"AAAA"}}', '{"event":"mark","mark":{"name":"done"}}', '{"event":"clear"}']);
    expect(h.stats.untranslatable).toBe(3);
  });
});

describe('the stream opening', () => {
  const dialect = telnyxMedia();
  it('waits through connected and early frames, reads the call from custom_parameters', () => {
    expect(dialect.readStart!(Buffer.from(TELNYX_CONNECTED), false, 0)).toEqual({ kind: 'wait' });
    expect(dialect.readStart!(Buffer.from(telnyxMediaFrame(2)), false, 1)).toEqual({ kind: 'wait' });
    expect(dialect.readStart!(Buffer.from(telnyxStart('call-9', 'tok', 'v3:x')), false, 2)).toEqual({
      kind: 'start',
      callId: 'call-9',
      token: 'tok',
      carrierCallId: 'v3:x',
    });
  });
  it('refuses what is not its protocol', () => {
    expect(dialect.readStart!(Buffer.from('hello'), false, 0)).toEqual({ kind: 'refuse', reason: 'protocol_violation' });
    expect(dialect.readStart!(Buffer.from(TELNYX_CONNECTED), true, 0)).toEqual({ kind: 'refuse', reason: 'protocol_violation' });
  });
  it('a start without custom_parameters names no call (the token check refuses it)', () => {
    const start = JSON.parse(telnyxStart('c', 't'));
    delete start.start.custom_parameters;
    expect(dialect.readStart!(Buffer.from(JSON.stringify(start)), false, 0)).toMatchObject({ kind: 'start', callId: undefined, token: undefined });
  });
});
