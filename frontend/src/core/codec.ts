// The only module that knows frames are msgpack (design: "only the codec
// imports msgpack"). Everything else deals in typed message objects.
import { decode as unpack, encode as pack } from '@msgpack/msgpack';
import type { ClientMessage } from './protocol';

/** A decoded frame: a map with a string `type` (protocol.ts's guards tell what it is). */
export type Frame = { type: string } & Record<string, unknown>;

/** A frame that is not one msgpack map with a string `type`. */
export class CodecError extends Error {
  override name = 'CodecError';
}

export function encode(msg: ClientMessage): Uint8Array {
  return pack(msg);
}

/**
 * Decodes one binary frame. Only the envelope is checked (a map with a string
 * `type`); callers check its shape (isServerMessage) and ignore types they do
 * not know, so a newer server can add messages without breaking an older page.
 */
export function decode(data: ArrayBuffer | Uint8Array): Frame {
  let value: unknown;
  try {
    // Default number decoding: int64 values come back as (possibly rounded)
    // numbers, never bigint, so the rest of the code only sees `number`.
    value = unpack(data);
  } catch (err) {
    throw new CodecError(`frame is not valid msgpack: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new CodecError('frame is not a msgpack map');
  }
  if (typeof (value as { type?: unknown }).type !== 'string') {
    throw new CodecError('frame has no string "type" field');
  }
  return value as Frame;
}
