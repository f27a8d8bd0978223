// Reachability: watches whether a host can be reached by probing it, and emits `online` / `offline` on changes only.
// A probe is an HTTP HEAD (any HTTP answer, even 404 or 500, means reachable) or a plain TCP connect. While online it
// probes every `interval`; while offline it backs off (src/util/backoff.ts). Timers are unref'd: it never holds a process.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { Agent, request } from 'undici'
import { ConnectError, ErrorCodes, HttpError, InvalidArgumentError } from '../errors.ts'
import { type BackoffOptions, backoffDelay } from '../util/backoff.ts'
import { startTimer } from '../util/timeout.ts'

export type ReachabilityStatus = 'unknown' | 'online' | 'offline'

export type ReachabilityOptions = {
  /** Time between probes while online, in ms. @default 30_000 */
  interval?: number
  /** Deadline of one probe, in ms. @default 5_000 */
  timeout?: number
  /** Delays between probes while offline, growing per failed probe. @default { initialDelay: 1_000, maxDelay: 30_000 } */
  backoff?: BackoffOptions
  /**
   * `'head'`: an HTTP(S) HEAD request on a fresh connection (any status counts as reachable; a TLS failure does not).
   * `'connect'`: a TCP connect to the URL's host and port, closed at once.
   * @default 'head' for http: and https: URLs, 'connect' for tcp://host:port
   */
  probe?: 'head' | 'connect'
}

type ReachabilityEvents = {
  online: []
  /** The error of the probe that failed. */
  offline: [error: Error]
  change: [status: ReachabilityStatus]
}

const DEFAULT_BACKOFF: BackoffOptions = { initialDelay: 1_000, maxDelay: 30_000 }

/**
 * @example
 * const reach = new Reachability('https://api.example.com/health', { interval: 10_000 }).start()
 * reach.on('offline', () => banner.show()); reach.on('online', () => banner.hide())
 */
export class Reachability extends EventEmitter<ReachabilityEvents> {
  readonly url: URL
  readonly #interval: number
  readonly #timeout: number
  readonly #backoff: BackoffOptions
  readonly #probe: 'head' | 'connect'
  #status: ReachabilityStatus = 'unknown'
  #lastError: Error | undefined
  #failures = 0
  #running = false
  #cancelTimer: () => void = () => {}
  #inFlight: Promise<ReachabilityStatus> | undefined
  #agent: Agent | undefined

  constructor(url: string | URL, options: ReachabilityOptions = {}) {
    super()
    this.url = parseUrl(url)
    this.#interval = positive(options.interval ?? 30_000, 'interval')
    this.#timeout = positive(options.timeout ?? 5_000, 'timeout')
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff }
    const tcp = this.url.protocol === 'tcp:'
    this.#probe = options.probe ?? (tcp ? 'connect' : 'head')
    if (this.#probe !== 'head' && this.#probe !== 'connect') {
      throw new InvalidArgumentError(`probe must be 'head' or 'connect', got ${String(this.#probe)}`)
    }
    if (tcp && this.#probe === 'head')
      throw new InvalidArgumentError('a tcp:// URL can only be probed with connect')
    if (tcp && this.url.port === '')
      throw new HttpError(ErrorCodes.HTTP_BAD_URL, `a tcp:// URL needs a port: ${this.url}`)
  }

  /** 'unknown' until the first probe completes. */
  get status(): ReachabilityStatus {
    return this.#status
  }

  /** The error of the last failed probe, while offline. */
  get lastError(): Error | undefined {
    return this.#lastError
  }

  /** Probes now, then keeps probing until stop(). */
  start(): this {
    if (this.#running) return this
    this.#running = true
    void this.#cycle()
    return this
  }

  /** Stops probing; the status stays as last seen. */
  stop(): void {
    this.#running = false
    this.#cancelTimer()
    const agent = this.#agent
    this.#agent = undefined
    void agent?.close().catch(() => {})
  }

  /** Probes once now (sharing a probe already under way) and resolves with the resulting status. */
  check(): Promise<ReachabilityStatus> {
    this.#inFlight ??= this.#probeOnce().finally(() => {
      this.#inFlight = undefined
    })
    return this.#inFlight
  }

  async #cycle(): Promise<void> {
    await this.check()
    if (!this.#running) return
    const delay =
      this.#status === 'online'
        ? this.#interval
        : backoffDelay(Math.max(0, this.#failures - 1), this.#backoff)
    this.#cancelTimer = startTimer(delay, () => void this.#cycle())
  }

  async #probeOnce(): Promise<ReachabilityStatus> {
    try {
      if (this.#probe === 'connect') await this.#connect()
      else await this.#head()
      this.#failures = 0
      this.#lastError = undefined
      this.#set('online', undefined)
    } catch (error) {
      this.#failures++
      this.#lastError = error as Error
      this.#set('offline', error as Error)
    }
    return this.#status
  }

  #set(status: 'online' | 'offline', error: Error | undefined): void {
    if (this.#status === status) return
    this.#status = status
    // A throwing listener must not stop the probing loop.
    try {
      if (status === 'online') this.emit('online')
      else this.emit('offline', error!)
      this.emit('change', status)
    } catch (listenerError) {
      queueMicrotask(() => {
        throw listenerError
      })
    }
  }

  async #head(): Promise<void> {
    // A fresh connection per probe (reset: true): a pooled socket could hide that the host went away.
    this.#agent ??= new Agent({ connect: { timeout: this.#timeout }, keepAliveTimeout: 1_000 })
    const res = await request(this.url, {
      method: 'HEAD',
      dispatcher: this.#agent,
      reset: true,
      headersTimeout: this.#timeout,
      signal: AbortSignal.timeout(this.#timeout),
    })
    await res.body.dump()
  }

  #connect(): Promise<void> {
    const { hostname, port } = this.url
    const defaultPort = this.url.protocol === 'https:' ? 443 : 80
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: hostname.replace(/^\[|\]$/g, ''),
        port: Number(port || defaultPort),
      })
      const cancel = startTimer(this.#timeout, () =>
        socket.destroy(new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `probe of ${this.url} timed out`)),
      )
      socket.once('connect', () => {
        cancel()
        socket.destroy()
        resolve()
      })
      socket.once('error', (error) => {
        cancel()
        reject(error)
      })
    })
  }
}

function parseUrl(url: string | URL): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new HttpError(ErrorCodes.HTTP_BAD_URL, `not a URL: ${String(url)}`, { cause })
  }
  if (!['http:', 'https:', 'tcp:'].includes(parsed.protocol)) {
    throw new HttpError(
      ErrorCodes.HTTP_BAD_URL,
      `Reachability probes http:, https: or tcp: URLs, not ${parsed.protocol}`,
    )
  }
  return parsed
}

function positive(value: number, name: string): number {
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new InvalidArgumentError(`${name} must be a positive number of ms, got ${String(value)}`)
  }
  return value
}
