// Argument helpers for AsyncSocket.read(): the length bound and the delimiter as bytes. Kept apart
// from the read path itself, which stays inline in read() because it runs once per record.
import { InvalidArgumentError } from '../errors.ts'

/** The largest `read({ length })`: a Buffer's length must fit in an int32. */
export const MAX_READ_LENGTH = 2 ** 31 - 1

let lastDelimiterString = ''
let lastDelimiter = Buffer.from('\n')

/** A delimiter as bytes; the last string one is cached, since a connection reads with the same one. */
export function toDelimiter(until: string | Uint8Array): Buffer {
  if (typeof until === 'string') {
    if (until !== lastDelimiterString) {
      lastDelimiter = Buffer.from(until)
      lastDelimiterString = until
    }
    if (lastDelimiter.length === 0)
      throw new InvalidArgumentError('read({ until }) needs a non-empty delimiter')
    return lastDelimiter
  }
  if (!(until instanceof Uint8Array) || until.length === 0) {
    throw new InvalidArgumentError('read({ until }) needs a non-empty string or Uint8Array delimiter')
  }
  return Buffer.isBuffer(until) ? until : Buffer.from(until.buffer, until.byteOffset, until.byteLength)
}
