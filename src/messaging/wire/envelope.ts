// The messaging envelope: the compact binary header inside every length-field frame.
// Encoding writes into a caller's buffer (no allocation per frame); decoding fills one reused
// record so the read loop allocates nothing but the payload it hands to the application.
//
//   byte 0      kind      (HELLO, WELCOME, EVENT, VOLATILE, REQUEST, RESPONSE, ERROR, ACK, PING, PONG, GOAWAY, BYE)
//   byte 1      flags     bits 0-1 payload format (json | msgpack | raw | empty), then SEQ, ACK, ID, NAME
//   [6 bytes]   sequence  uint48 LE, when SEQ: every reliable message (event, request, response, error)
//   [6 bytes]   ack       uint48 LE, when ACK: cumulative, "I have everything up to here"
//   [4 bytes]   request id uint32 LE, when ID: pairs a response with its request
//   [1 + n]     name      length byte + UTF-8, when NAME: event or method name (≤ 255 bytes)
//   rest        payload   in the format named by the flags

export {
  checkName,
  decodeEnvelope,
  type Envelope,
  headerLength,
  isNameCached,
  MAX_HEADER_BYTES,
  MAX_NAME_BYTES,
  newEnvelope,
  requireName,
  writeHeader,
} from './envelope-frame.ts'
export { Flag, Format, Kind } from './kinds.ts'
