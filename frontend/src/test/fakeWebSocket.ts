// A scriptable stand-in for the browser WebSocket: the test opens, feeds and
// drops it, and reads back what the client sent (decoded).
import { decode, encode } from '../core/codec';
import type { ClientMessage, ServerMessage } from '../core/protocol';
import type { WebSocketLike } from '../core/socket';

export class FakeWebSocket implements WebSocketLike {
  binaryType: BinaryType = 'blob';
  readyState = 0; // CONNECTING
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  readonly sent: ClientMessage[] = [];
  closedByClient = false;

  constructor(readonly url: string) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(decode(data.slice().buffer) as unknown as ClientMessage);
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  // ---- driven by the test ----

  open(): void {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }

  /** Delivers a server message as a binary frame. */
  receive(msg: ServerMessage): void {
    this.receiveRaw(encode(msg as unknown as ClientMessage).slice().buffer);
  }

  receiveRaw(data: unknown): void {
    this.onmessage?.({ data } as MessageEvent);
  }

  /** The server or the network closed the connection (1006: no close frame; 1001: server shutdown), with the server's reason. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    if (code === 1006) this.onerror?.({} as Event);
    this.onclose?.({ code, reason } as CloseEvent);
  }
}

/** A factory that records every socket it creates. */
export function fakeWebSockets() {
  const sockets: FakeWebSocket[] = [];
  const create = (url: string) => {
    const ws = new FakeWebSocket(url);
    sockets.push(ws);
    return ws;
  };
  return {
    sockets,
    create,
    /** the most recently created socket */
    get last(): FakeWebSocket {
      const ws = sockets[sockets.length - 1];
      if (!ws) throw new Error('no socket was created');
      return ws;
    },
  };
}
