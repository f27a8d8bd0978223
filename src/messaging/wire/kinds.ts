// The envelope's kinds, payload formats and flag bits: protocol constants shared by every encoder and
// decoder (Node and browser). See ../envelope.ts for the layout.

/** Frame kinds. A number that is not listed here is a protocol error. */
export const Kind = {
  HELLO: 1,
  WELCOME: 2,
  EVENT: 3,
  VOLATILE: 4,
  REQUEST: 5,
  RESPONSE: 6,
  ERROR: 7,
  ACK: 8,
  PING: 9,
  PONG: 10,
  GOAWAY: 11,
  BYE: 12,
  /**
   * Several complete envelopes in one WebSocket message (see ./batch.ts), only between peers that
   * announced it in HELLO/WELCOME (`batch`). Never seen by the session: the WebSocket transports unpack
   * it, and the envelope decoders refuse it as an unknown kind (it is not a kind over TCP).
   */
  BATCH: 13,
} as const
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Payload formats, stored in the low two bits of the flags. */
export const Format = { JSON: 0, MSGPACK: 1, RAW: 2, EMPTY: 3 } as const
export type Format = (typeof Format)[keyof typeof Format]

export const Flag = { FORMAT_MASK: 0b11, SEQ: 1 << 2, ACK: 1 << 3, ID: 1 << 4, NAME: 1 << 5 } as const
