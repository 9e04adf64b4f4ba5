// The timeline's Packer in a Web Worker (packer.ts says why): one request at a time, answered in order.
import { Packer, transferables } from './packer';
import type { PackerReply, PackerRequest } from './packer';

const packer = new Packer();

self.onmessage = (event: MessageEvent<PackerRequest>) => {
  let reply: PackerReply;
  try {
    reply = packer.handle(event.data);
  } catch (err) {
    // answered all the same: the page waits for each reply before its next question
    reply = { seq: event.data.seq, shown: null, meta: null, error: err instanceof Error ? err.message : String(err) };
  }
  (self as unknown as Worker).postMessage(reply, reply.shown === null ? [] : transferables(reply.shown));
};
