import { describe, expect, it } from 'vitest';
import { CodecError, decode, encode } from './codec';
import type { ClientMessage } from './protocol';

/** A Uint8Array's bytes as a standalone ArrayBuffer, as the browser delivers frames. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

describe('codec', () => {
  it.each<ClientMessage>([
    { type: 'view', interval: 0.25 },
    { type: 'view', interval: 10 },
    { type: 'flush' },
    { type: 'resync' },
    { type: 'command', id: 7, name: 'add_node', args: { host: '192.168.1.*', cpus: 2, cluster: 'né' } },
    { type: 'view', node: '127.0.0.2' },
    { type: 'view', interval: 1, node: null },
  ])('round-trips %j', (msg) => {
    const bytes = encode(msg);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decode(toArrayBuffer(bytes))).toEqual(msg);
  });

  it('encodes to msgpack (a fixmap whose first key is "type")', () => {
    const bytes = encode({ type: 'flush' });
    // 0x81: fixmap of 1 entry; 0xa4 "type": fixstr of 4 bytes
    expect([...bytes.slice(0, 6)]).toEqual([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65]);
  });

  it('rejects bytes that are not msgpack', () => {
    expect(() => decode(new Uint8Array([0xc1]).buffer)).toThrow(CodecError);
    expect(() => decode(new ArrayBuffer(0))).toThrow(CodecError);
  });

  it('rejects a frame that is not a map', () => {
    // [1, 2] as a msgpack fixarray; "hi" as a fixstr
    expect(() => decode(new Uint8Array([0x92, 0x01, 0x02]).buffer)).toThrow(/not a msgpack map/);
    expect(() => decode(new Uint8Array([0xa2, 0x68, 0x69]).buffer)).toThrow(CodecError);
    expect(() => decode(new Uint8Array([0xc0]).buffer)).toThrow(CodecError); // nil
  });

  it('rejects a map without a string type', () => {
    // {} and {type: 1}
    expect(() => decode(new Uint8Array([0x80]).buffer)).toThrow(/type/);
    expect(() => decode(new Uint8Array([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x01]).buffer)).toThrow(CodecError);
  });
});
