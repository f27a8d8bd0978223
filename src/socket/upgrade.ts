// startTLS: runs a TLS handshake over a live plaintext connection, client or server side.
// Bytes that arrived before the upgrade but after the last plaintext read belong to the handshake,
// so they are replayed into the TLS layer ahead of the rest of the stream.
import type net from 'node:net'
import { Duplex } from 'node:stream'
import tls from 'node:tls'
import { ErrorCodes, TlsError, type WirekitError } from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import { connectError } from './map-error.ts'
import type { ReceiveBuffer } from './receive-buffer.ts'
import { clientOptions, DEFAULT_HANDSHAKE_TIMEOUT, serverOptions, type TlsOptions } from './tls.ts'

/**
 * Takes a paused plaintext socket off the read path and returns the stream the handshake runs over:
 * `raw` itself, or `raw` behind `leftover`, the bytes read past the last plaintext read (the start of
 * the peer's handshake).
 */
export function handOver(
  raw: net.Socket,
  receiver: ReceiveBuffer | undefined,
  leftover: Buffer | undefined,
): Duplex {
  raw.pause()
  raw.on('error', noop)
  // From now on the plaintext socket's bytes are the handshake's: hand them on as 'data' events.
  receiver?.attach(raw, emitData, undefined)
  return leftover ? prependedStream(raw, leftover) : raw
}

function noop(): void {}

function emitData(raw: net.Socket, chunk: Buffer): void {
  raw.emit('data', chunk)
}

/** A duplex over `raw` that first yields `head`: lets TLS see bytes we had already read. */
export function prependedStream(raw: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      raw.resume()
    },
    write(chunk: Buffer, _encoding, callback) {
      raw.write(chunk, callback)
    },
    final(callback) {
      raw.end(callback)
    },
    destroy(error, callback) {
      raw.destroy(error ?? undefined)
      callback(error)
    },
  })
  duplex.push(head)
  raw.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) raw.pause()
  })
  raw.on('end', () => duplex.push(null))
  raw.on('error', (error) => duplex.destroy(error))
  raw.on('close', () => duplex.destroy())
  raw.resume()
  return duplex
}

/**
 * Handshakes over `stream` and resolves with the TLS socket once it is secure. Rejects with a
 * TlsError (untrusted, hostname, rejected, handshake timeout…); the caller destroys the connection.
 */
export function handshake(
  stream: Duplex,
  options: TlsOptions,
  isServer: boolean,
  host: string | undefined,
  where: string,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    let settled = false
    let socket: tls.TLSSocket | undefined
    const finish = (error: WirekitError | undefined): void => {
      if (settled) return
      settled = true
      cancelTimer()
      if (error) {
        socket?.destroy()
        reject(error)
      } else resolve(socket!)
    }
    const cancelTimer = startTimer(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, () =>
      finish(new TlsError(ErrorCodes.TLS_HANDSHAKE_TIMEOUT, `TLS handshake with ${where} timed out`)),
    )
    const onClose = (): void =>
      finish(new TlsError(ErrorCodes.TLS_FAILED, `connection to ${where} closed during the TLS handshake`))
    if (isServer) {
      // A never-listening tls.Server does the server side: its connection listener is what computes
      // `authorized` for client certificates, which a bare TLSSocket does not.
      const carrier = tls.createServer(serverOptions(options))
      carrier.once('secureConnection', (secured: tls.TLSSocket) => {
        socket = secured
        stream.off('close', onClose)
        finish(undefined)
      })
      carrier.once('tlsClientError', (error: Error, failed: tls.TLSSocket) => {
        socket = failed
        finish(connectError(error, where))
      })
      stream.once('close', onClose)
      carrier.emit('connection', stream)
    } else {
      socket = tls.connect(clientOptions(options, host, stream))
      socket.once('secureConnect', () => {
        socket!.off('close', onClose)
        finish(undefined)
      })
      socket.once('error', (error: Error) => finish(connectError(error, where)))
      socket.once('close', onClose)
    }
  })
}
