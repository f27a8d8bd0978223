// FaultProxy: a TCP proxy that injects network faults, in the spirit of toxiproxy. Tests drive it from code;
// `wirekit proxy` wraps it for people debugging their own apps. Built on node:net directly: it is a tool
// beneath the socket layer, not a user of it.
import { createServer, type Server, type Socket } from 'node:net'
import { InvalidArgumentError } from '../errors.ts'
import { startTimer } from '../util/timeout.ts'
import { type ConnectionContext, ProxyConnection } from './connection.ts'
import {
  type Faults,
  mergeDirection,
  NO_FAULTS,
  nonNegative,
  type ResolvedDirectionFaults,
} from './faults.ts'
import type { DirectionCounters } from './pipe.ts'

export type FaultProxyOptions = Faults & {
  /** Where the proxy listens. @default { host: '127.0.0.1', port: 0 } */
  listen?: { host?: string; port?: number }
  /** Where it forwards to. `host` @default '127.0.0.1' */
  target: { host?: string; port: number }
  /** Bytes a direction may hold in its delay queue before the sending side is paused. @default 1 MiB */
  maxQueuedBytes?: number
}

/** The faults in force, resolved per direction. */
export type ActiveFaults = {
  upstream: ResolvedDirectionFaults
  downstream: ResolvedDirectionFaults
  resetEvery: number
  blackholeAfter: number
}

export type FaultProxyStats = {
  /** Connections open now. */
  connections: number
  /** Connections accepted since start. */
  totalConnections: number
  /** Connections reset by resetAll() or resetEvery. */
  resets: number
  /** Bytes forwarded client → target, and target → client. */
  bytesUpstream: number
  bytesDownstream: number
  /** Bytes swallowed by a blackhole, each way. */
  droppedUpstream: number
  droppedDownstream: number
  /** Bytes held in delay queues now, each way (bounded by maxQueuedBytes per connection, plus one read). */
  queuedUpstream: number
  queuedDownstream: number
}

/**
 * @example
 * const proxy = await FaultProxy.start({ target: { port: 9000 }, latency: 50, jitter: 20 })
 * proxy.set({ downstream: { bandwidth: 64 * 1024 } })
 * proxy.resetAll()
 * await proxy.close()
 */
export class FaultProxy {
  readonly #server: Server
  readonly #connections = new Set<ProxyConnection>()
  readonly #context: ConnectionContext
  #faults: ActiveFaults = { upstream: NO_FAULTS, downstream: NO_FAULTS, resetEvery: 0, blackholeAfter: 0 }
  #cancelResetTimer: () => void = () => {}
  #totalConnections = 0
  #resets = 0
  readonly #up: DirectionCounters = { forwarded: 0, dropped: 0 }
  readonly #down: DirectionCounters = { forwarded: 0, dropped: 0 }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options)
    const listen = options.listen ?? {}
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject)
      proxy.#server.listen({ host: listen.host ?? '127.0.0.1', port: listen.port ?? 0 }, () => {
        proxy.#server.off('error', reject)
        resolve()
      })
    })
    return proxy
  }

  private constructor(options: FaultProxyOptions) {
    const target = options?.target
    if (
      typeof target?.port !== 'number' ||
      !Number.isInteger(target.port) ||
      target.port < 1 ||
      target.port > 65_535
    ) {
      throw new InvalidArgumentError('FaultProxy: target.port must be a port number (1-65535)')
    }
    const maxQueued = nonNegative('maxQueuedBytes', options.maxQueuedBytes ?? 1 << 20)
    this.#context = {
      target: { host: target.host ?? '127.0.0.1', port: target.port },
      upstream: () => this.#faults.upstream,
      downstream: () => this.#faults.downstream,
      upstreamCounters: this.#up,
      downstreamCounters: this.#down,
      maxQueued: Math.max(1, maxQueued),
      blackholeAfter: 0,
      onClosed: (connection) => this.#connections.delete(connection),
    }
    this.set(options)
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket))
  }

  /** The address the proxy listens on. */
  get address(): { host: string; port: number } {
    const address = this.#server.address()
    if (address === null || typeof address === 'string')
      throw new InvalidArgumentError('FaultProxy is not listening')
    return { host: address.address, port: address.port }
  }

  get port(): number {
    return this.address.port
  }

  get faults(): ActiveFaults {
    return this.#faults
  }

  get stats(): FaultProxyStats {
    let queuedUpstream = 0
    let queuedDownstream = 0
    for (const connection of this.#connections) {
      const queued = connection.queued
      queuedUpstream += queued.upstream
      queuedDownstream += queued.downstream
    }
    return {
      connections: this.#connections.size,
      totalConnections: this.#totalConnections,
      resets: this.#resets,
      bytesUpstream: this.#up.forwarded,
      bytesDownstream: this.#down.forwarded,
      droppedUpstream: this.#up.dropped,
      droppedDownstream: this.#down.dropped,
      queuedUpstream,
      queuedDownstream,
    }
  }

  /**
   * Changes faults at run time; keys left out keep their value. Top-level direction keys set both directions.
   * Queued bytes keep their due time; new delays apply to bytes that arrive from now on.
   * @example proxy.set({ latency: 50 }); proxy.set({ upstream: { blackhole: true } })
   */
  set(faults: Faults): void {
    const both = {
      latency: faults.latency,
      jitter: faults.jitter,
      bandwidth: faults.bandwidth,
      split: faults.split,
      blackhole: faults.blackhole,
    }
    const next: ActiveFaults = {
      upstream: mergeDirection(mergeDirection(this.#faults.upstream, both, ''), faults.upstream, 'upstream.'),
      downstream: mergeDirection(
        mergeDirection(this.#faults.downstream, both, ''),
        faults.downstream,
        'downstream.',
      ),
      resetEvery:
        faults.resetEvery === undefined
          ? this.#faults.resetEvery
          : nonNegative('resetEvery', faults.resetEvery),
      blackholeAfter:
        faults.blackholeAfter === undefined
          ? this.#faults.blackholeAfter
          : nonNegative('blackholeAfter', faults.blackholeAfter),
    }
    const resetChanged = next.resetEvery !== this.#faults.resetEvery
    this.#faults = next
    this.#context.blackholeAfter = next.blackholeAfter
    if (resetChanged) this.#scheduleResets()
    for (const connection of this.#connections) connection.kick()
  }

  /** Turns every fault off (bytes already queued still leave at their due time). */
  clear(): void {
    this.set({ ...NO_FAULTS, resetEvery: 0, blackholeAfter: 0 })
  }

  /** Resets every open connection now (RST both ways: each peer sees ECONNRESET). Returns how many. */
  resetAll(): number {
    const count = this.#connections.size
    for (const connection of this.#connections) connection.reset()
    this.#resets += count
    return count
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#cancelResetTimer()
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    for (const connection of this.#connections) connection.destroy()
    await closed
  }

  #accept(socket: Socket): void {
    this.#totalConnections++
    this.#connections.add(new ProxyConnection(socket, this.#context))
  }

  #scheduleResets(): void {
    this.#cancelResetTimer()
    const every = this.#faults.resetEvery
    const tick = (): void => {
      this.resetAll()
      this.#cancelResetTimer = startTimer(every, tick)
    }
    this.#cancelResetTimer = startTimer(every, tick)
  }
}
