/**
 * A cap on concurrent connections per source address, so one client holding
 * idle sockets cannot use up the process's file descriptors and lock out
 * everybody else (each socket is one fd; the soft limit is often 1,024).
 *
 * A media WebSocket stops counting once its call token has been verified
 * (MediaServer calls exempt()): a carrier streams many calls' audio from few
 * addresses, and each verified stream is bounded by its token (one stream per
 * routed call). Until then, an upgraded socket counts like any other.
 *
 * Behind a load balancer or proxy every client shares its address: raise the
 * cap there, or set it to 0 (off) and let the proxy do this job.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const COUNTED = Symbol('switchboard.counted');
const SPOKE = Symbol('switchboard.spoke');
const IN_FLIGHT = Symbol('switchboard.inFlight');
type Tracked = Duplex & { [COUNTED]?: string; [SPOKE]?: boolean; [IN_FLIGHT]?: number };

export class ConnectionLimiter {
  private readonly open = new Map<string, number>();

  /**
   * @param max concurrent connections per address (0 = no cap)
   * @param silentMs how long a new connection may stay silent before it is
   *   closed. Node's headersTimeout only covers connections that have begun a
   *   request; a socket that never sends a byte would otherwise be held (and
   *   hold its fd) until the keep-alive timeout, or forever.
   */
  constructor(
    private readonly max: number,
    private readonly silentMs: number,
    private readonly onRefuse: () => void = () => {},
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      if (this.max > 0 && !this.admit(socket)) return;
      const timer = setTimeout(() => {
        if (!(socket as Tracked)[SPOKE]) socket.destroy();
      }, this.silentMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    });
    const spoke = (socket: Duplex) => ((socket as Tracked)[SPOKE] = true);
    server.on('request', (req, res) => {
      const s = req.socket as Tracked;
      s[SPOKE] = true;
      // Requests answered on this socket are counted until their response is done.
      s[IN_FLIGHT] = (s[IN_FLIGHT] ?? 0) + 1;
      res.once('close', () => (s[IN_FLIGHT] = (s[IN_FLIGHT] ?? 1) - 1));
    });
    server.on('upgrade', (req) => spoke(req.socket));
  }

  /**
   * Whether earlier requests on this socket are still unanswered. An upgrade
   * pipelined behind them cannot be served: Node hands the socket over with
   * reading paused, and their responses would land inside the WebSocket.
   */
  busy(socket: Duplex): boolean {
    return ((socket as Tracked)[IN_FLIGHT] ?? 0) > 0;
  }

  /** Connections open from this address now (tests, metrics). */
  count(addr: string): number {
    return this.open.get(addr) ?? 0;
  }

  /** Counts the socket against its address, or closes it when that address is at the cap. */
  private admit(socket: Socket): boolean {
    const addr = socket.remoteAddress;
    if (addr === undefined) return false; // already gone
    const n = this.open.get(addr) ?? 0;
    if (n >= this.max) {
      this.onRefuse();
      socket.destroy();
      return false;
    }
    this.open.set(addr, n + 1);
    (socket as Tracked)[COUNTED] = addr;
    socket.once('close', () => this.exempt(socket));
    return true;
  }

  /** Stops counting a socket against its address (closed, or a verified media stream). */
  exempt(socket: Duplex): void {
    const s = socket as Tracked;
    const addr = s[COUNTED];
    if (addr === undefined) return;
    s[COUNTED] = undefined;
    const n = (this.open.get(addr) ?? 1) - 1;
    if (n <= 0) this.open.delete(addr);
    else this.open.set(addr, n);
  }
}
