// One proxied connection: the client socket, the socket to the target, and a FaultPipe each way.
// Resets travel through (an RST on one side becomes an RST on the other); FINs are forwarded by the pipes.
import { connect, type Socket } from 'node:net'
import { debuglog } from 'node:util'
import { startTimer } from '../util/timeout.ts'
import type { ResolvedDirectionFaults } from './faults.ts'
import { type DirectionCounters, FaultPipe } from './pipe.ts'

const debug = debuglog('wirekit')

/** What a connection reads from its proxy: current faults and shared counters. */
export type ConnectionContext = {
  target: { host: string; port: number }
  upstream: () => ResolvedDirectionFaults
  downstream: () => ResolvedDirectionFaults
  upstreamCounters: DirectionCounters
  downstreamCounters: DirectionCounters
  maxQueued: number
  blackholeAfter: number
  onClosed: (connection: ProxyConnection) => void
}

export class ProxyConnection {
  readonly #client: Socket
  readonly #target: Socket
  readonly #up: FaultPipe
  readonly #down: FaultPipe
  /** Set by blackholeAfter: this connection stays open but forwards nothing, either way. */
  #silenced = false
  #cancelSilence: () => void
  #open = 2

  constructor(client: Socket, context: ConnectionContext) {
    this.#client = client
    this.#target = connect({ ...context.target, allowHalfOpen: true, noDelay: true })
    client.setNoDelay(true)
    const silenced = () => this.#silenced
    this.#up = new FaultPipe(
      client,
      this.#target,
      context.upstream,
      silenced,
      context.upstreamCounters,
      context.maxQueued,
    )
    this.#down = new FaultPipe(
      this.#target,
      client,
      context.downstream,
      silenced,
      context.downstreamCounters,
      context.maxQueued,
    )
    this.#cancelSilence = startTimer(context.blackholeAfter, () => {
      this.#silenced = true
      this.kick()
    })
    const onClose = (): void => {
      if (--this.#open === 0) {
        this.#cancelSilence()
        context.onClosed(this)
      }
    }
    client.on('error', (error) => this.#onError('client', this.#target, error))
    this.#target.on('error', (error) => this.#onError('target', client, error))
    client.on('close', () => {
      this.#down.close()
      onClose()
    })
    this.#target.on('close', () => {
      this.#up.close()
      onClose()
    })
  }

  /** Bytes waiting in the delay queues, client → target and target → client. */
  get queued(): { upstream: number; downstream: number } {
    return { upstream: this.#up.queued, downstream: this.#down.queued }
  }

  /** Applies changed faults at once. */
  kick(): void {
    this.#up.kick()
    this.#down.kick()
  }

  /** Abortive close of both sides: each peer sees ECONNRESET. */
  reset(): void {
    this.#up.close()
    this.#down.close()
    resetSocket(this.#client)
    resetSocket(this.#target)
  }

  destroy(): void {
    this.#up.close()
    this.#down.close()
    this.#client.destroy()
    this.#target.destroy()
  }

  // A failure on one side (refused, reset) resets the other, as a real broken path would.
  #onError(side: string, other: Socket, error: Error): void {
    debug('fault proxy: %s socket error: %s', side, error.message)
    this.#up.close()
    this.#down.close()
    resetSocket(other)
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy() // not a TCP handle (cannot happen for node:net TCP sockets, but never throw from a reset)
  }
}
