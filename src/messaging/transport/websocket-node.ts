// Opening a client WebSocket in Node with the `ws` package rather than the platform WebSocket: it takes
// the client's TLS options (a private CA, mTLS) for wss://, and its socket can be corked, so a batch of
// envelopes leaves in one write (measured about 2x the platform WebSocket's one write per message).
// The result is used through the WHATWG surface both implement (send, close, onmessage, bufferedAmount).

import { WebSocket as Ws } from 'ws'
import { ConnectError, ErrorCodes } from '../../errors.ts'
import type { ClientTlsOptions } from './stream.ts'
import { SUBPROTOCOL } from './websocket-frames.ts'

export function openNodeWebSocket(
  url: string,
  timeout: number,
  tls: ClientTlsOptions | undefined,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new Ws(url, SUBPROTOCOL, {
      perMessageDeflate: false,
      handshakeTimeout: timeout,
      ca: tls?.ca,
      cert: tls?.cert,
      key: tls?.key,
      passphrase: tls?.passphrase,
      rejectUnauthorized: tls?.rejectUnauthorized,
      ...(tls?.servername === undefined ? {} : { servername: tls.servername }),
    })
    ws.binaryType = 'arraybuffer'
    const fail = (error: Error) => {
      ws.off('open', opened)
      ws.terminate()
      reject(
        /timeout/i.test(error.message)
          ? new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `WebSocket to ${url} not open within ${timeout} ms`)
          : new ConnectError(
              ErrorCodes.CONNECT_FAILED,
              `WebSocket to ${url} could not be opened: ${error.message}`,
              {
                cause: error,
              },
            ),
      )
    }
    const opened = () => {
      ws.off('error', fail)
      ws.on('error', noop) // later errors end in 'close', which the connection handles
      resolve(ws as unknown as WebSocket)
    }
    ws.once('open', opened)
    ws.once('error', fail)
  })
}

function noop(): void {}
