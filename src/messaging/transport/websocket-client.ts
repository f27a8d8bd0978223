// Opening a wirekit WebSocket with the platform's WebSocket (browsers, Node 22+, Deno, Bun), and the
// backpressure it offers: `bufferedAmount`, watched until it drains. Browser-safe: no node: imports.

import { ConnectError, ErrorCodes } from '../../errors.ts'
import { SUBPROTOCOL } from './websocket-frames.ts'

/** Bytes queued in the WebSocket above which the session holds its outbox back. */
export const HIGH_WATER_BYTES = 512 * 1024

/** Opens `url` with subprotocol wirekit.1 and binary messages as ArrayBuffers. */
export function openWebSocket(url: string, timeout: number): Promise<WebSocket> {
  const Platform = globalThis.WebSocket
  if (typeof Platform !== 'function') {
    return Promise.reject(
      new ConnectError(ErrorCodes.CONNECT_FAILED, `No WebSocket in this runtime for ${url}`),
    )
  }
  return new Promise((resolve, reject) => {
    let ws: WebSocket
    try {
      ws = new Platform(url, SUBPROTOCOL)
    } catch (error) {
      reject(new ConnectError(ErrorCodes.CONNECT_FAILED, `Cannot open ${url}: ${(error as Error).message}`))
      return
    }
    ws.binaryType = 'arraybuffer'
    const timer = setTimeout(() => {
      settle()
      ws.close()
      reject(
        new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `WebSocket to ${url} not open within ${timeout} ms`),
      )
    }, timeout)
    const settle = () => {
      clearTimeout(timer)
      ws.onopen = null
      ws.onerror = null
      ws.onclose = null
    }
    ws.onopen = () => {
      settle()
      resolve(ws)
    }
    // The platform says nothing about why (browsers hide it on purpose): refused, TLS or HTTP status.
    ws.onerror = ws.onclose = () => {
      settle()
      reject(new ConnectError(ErrorCodes.CONNECT_FAILED, `WebSocket to ${url} could not be opened`))
    }
  })
}

/**
 * Calls `drained` once `ws.bufferedAmount` is below `HIGH_WATER_BYTES` (the platform has no drain event,
 * so it is polled, a few ms apart). Returns a cancel function.
 */
export function whenDrained(ws: WebSocket, drained: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = () => {
    if (ws.readyState !== 1) return
    if (ws.bufferedAmount < HIGH_WATER_BYTES) drained()
    else timer = setTimeout(check, 4)
  }
  timer = setTimeout(check, 4)
  return () => clearTimeout(timer)
}
