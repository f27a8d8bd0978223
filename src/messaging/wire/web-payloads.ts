// Payloads for runtimes without Buffer (browsers, Deno, Bun, React Native): JSON through TextEncoder and
// raw bytes; MessagePack is not spoken here (a server sends JSON to clients that do not accept it).

import { ErrorCodes, InvalidArgumentError, ProtocolError } from '../../errors.ts'
import { Format } from './kinds.ts'
import type { Body, Payloads } from './payloads.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

function bad(message: string): never {
  throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ${message}`)
}

function parse(bytes: Uint8Array): unknown {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    return bad('payload is not UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    return bad('payload is not valid JSON')
  }
}

export const webPayloads: Payloads = {
  formatOf(data: unknown): Format {
    if (data === undefined) return Format.EMPTY
    return data instanceof Uint8Array ? Format.RAW : Format.JSON
  },
  encode(data: unknown, format: Format): Body {
    if (format === Format.RAW) return data as Uint8Array
    if (format !== Format.JSON) return undefined
    let text: string
    try {
      text = JSON.stringify(data)
    } catch (error) {
      throw new InvalidArgumentError(`Cannot encode message data as JSON: ${(error as Error).message}`)
    }
    // Encoded at once: the outbox then knows its size, and persisted entries are bytes already.
    return encoder.encode(text)
  },
  length(body: Body): number {
    if (body === undefined) return 0
    return typeof body === 'string' ? encoder.encode(body).length : body.byteLength
  },
  write(target: Uint8Array, at: number, body: Body, length: number): number {
    if (body === undefined) return at
    if (typeof body === 'string') encoder.encodeInto(body, target.subarray(at, at + length))
    else target.set(body, at)
    return at + length
  },
  decode(frame: Uint8Array, start: number, format: Format): unknown {
    if (format === Format.EMPTY) {
      if (start !== frame.length) bad('bytes after empty payload')
      return undefined
    }
    // Raw payloads are copied: the frame's bytes may be reused.
    if (format === Format.RAW) return frame.slice(start)
    if (format !== Format.JSON) bad('MessagePack payloads are not supported by this client')
    return parse(frame.subarray(start))
  },
  decodeStored(body: Body, format: Format): unknown {
    if (body === undefined) return undefined
    if (format !== Format.JSON) return body
    return typeof body === 'string' ? JSON.parse(body) : parse(body)
  },
  alloc: (size: number) => new Uint8Array(size),
}
