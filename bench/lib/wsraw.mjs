/**
 * Just enough WebSocket (RFC 6455) for the media simulators, on plain
 * sockets: the opening handshake both ways, text frames built straight into
 * one Buffer, and an incremental frame reader. The simulators share the
 * machine's cores with the relay they measure, so they skip everything ws
 * does per frame that a simulator does not need (events, per-frame objects,
 * masking: a client's frames carry the all-zero mask, which RFC 6455 allows
 * and which needs no XOR; the receiver still unmasks as it would any frame).
 */
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const OP_TEXT = 1;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

export const acceptKey = (key) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** A frame as a client sends it (masked, all-zero mask); `payload` is ASCII text or a Buffer. */
export function clientFrame(payload, opcode = OP_TEXT) {
  return frame(payload, opcode, true);
}

/** A frame as a server sends it (unmasked). */
export function serverFrame(payload, opcode = OP_TEXT) {
  return frame(payload, opcode, false);
}

function frame(payload, opcode, masked) {
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const hl = 2 + ext + (masked ? 4 : 0);
  const b = Buffer.allocUnsafe(hl + n);
  b[0] = 0x80 | opcode;
  const m = masked ? 0x80 : 0;
  if (ext === 0) b[1] = m | n;
  else if (ext === 2) {
    b[1] = m | 126;
    b.writeUInt16BE(n, 2);
  } else {
    b[1] = m | 127;
    b.writeUInt32BE(0, 2);
    b.writeUInt32BE(n, 6);
  }
  if (masked) b.writeUInt32BE(0, 2 + ext);
  if (typeof payload === 'string') b.latin1Write(payload, hl);
  else payload.copy(b, hl);
  return b;
}

/** The client's opening handshake request. */
export function upgradeRequest(host, port, path) {
  const key = randomBytes(16).toString('base64');
  return `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** The server's answer to an opening handshake (null if `head` is not one). */
export function upgradeResponse(head) {
  const m = /\r\nsec-websocket-key: *([^\r\n]+)/i.exec(head);
  if (!m) return null;
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(m[1].trim())}\r\n\r\n`;
}

/**
 * Reads a byte stream: first an HTTP head (when `head` is true), then frames.
 * onHead(text) once; onFrame(opcode, buf, start, end) per frame, with the
 * payload unmasked in place at buf[start..end). `push` may be given a view
 * of a buffer that is reused after it returns: whatever is kept is copied.
 */
export class FrameReader {
  constructor({ head = false, onHead = () => {}, onFrame }) {
    this.needHead = head;
    this.onHead = onHead;
    this.onFrame = onFrame;
    this.carry = null;
  }

  push(chunk) {
    let b = chunk;
    if (this.carry) {
      b = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    let off = 0;
    if (this.needHead) {
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) {
        this.carry = Buffer.from(b);
        return;
      }
      this.needHead = false;
      this.onHead(b.latin1Slice(0, end));
      off = end + 4;
    }
    const n = b.length;
    while (n - off >= 2) {
      const b1 = b[off + 1];
      let len = b1 & 0x7f;
      let p = off + 2;
      if (len === 126) {
        if (n - off < 4) break;
        len = (b[off + 2] << 8) | b[off + 3];
        p = off + 4;
      } else if (len === 127) {
        if (n - off < 10) break;
        len = b.readUInt32BE(off + 6);
        p = off + 10;
      }
      let m0 = 0,
        m1 = 0,
        m2 = 0,
        m3 = 0;
      if (b1 & 0x80) {
        if (n - p < 4) break;
        m0 = b[p];
        m1 = b[p + 1];
        m2 = b[p + 2];
        m3 = b[p + 3];
        p += 4;
      }
      if (n - p < len) break;
      if (m0 | m1 | m2 | m3) {
        for (let i = 0; i < len; i++) b[p + i] ^= (i & 3) === 0 ? m0 : (i & 3) === 1 ? m1 : (i & 3) === 2 ? m2 : m3;
      }
      this.onFrame(b[off] & 0x0f, b, p, p + len);
      off = p + len;
    }
    if (off < n) this.carry = Buffer.from(b.subarray(off));
  }
}

/** The unsigned decimal integer at buf[i..], up to `max` digits. */
export function digitsAt(buf, i, max) {
  let v = 0;
  for (let k = 0; k < max; k++) {
    const c = buf[i + k] - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
  }
  return v;
}
