// What every session of one RtmpServer shares: options, the streams by key, the sessions, events,
// authorization, and one once-a-second sweep for timeouts and rates (no timer per connection).
import { debuglog } from 'node:util'
import { ErrorCodes, RtmpError, type WirekitError } from '../errors.ts'
import { LiveStream } from './live-stream.ts'
import type { AuthorizeRequest, ResolvedOptions, RtmpServerEvents, RtmpSession } from './server-types.ts'

const debug = debuglog('wirekit')

/** What the sweep asks of a session. */
export interface SweptSession extends RtmpSession {
  /** Called about once a second with the time: ping, time out, or nothing. */
  sweep(now: number): void
}

type Emit = <K extends keyof RtmpServerEvents>(event: K, ...args: RtmpServerEvents[K]) => boolean

export class ServerContext {
  readonly options: ResolvedOptions
  readonly streams = new Map<string, LiveStream>()
  readonly sessions = new Set<SweptSession>()
  #nextId = 1
  #timer: NodeJS.Timeout | undefined
  readonly #emit: Emit
  /** Totals of sessions that have closed (stats() adds the live ones). */
  closedBytesIn = 0
  closedBytesOut = 0

  constructor(options: ResolvedOptions, emit: Emit) {
    this.options = options
    this.#emit = emit
  }

  nextId(): string {
    return String(this.#nextId++)
  }

  add(session: SweptSession): void {
    this.sessions.add(session)
    this.#timer ??= setInterval(() => this.#sweep(), 1000).unref()
  }

  remove(session: SweptSession): void {
    if (!this.sessions.delete(session)) return
    this.closedBytesIn += session.bytesIn
    this.closedBytesOut += session.bytesOut
  }

  /** The stream for a key, made when first asked. */
  stream(app: string, name: string): LiveStream {
    const key = `${app}/${name}`
    let stream = this.streams.get(key)
    if (stream === undefined) {
      stream = new LiveStream(app, name, {
        gopCache: this.options.gopCache,
        maxGopBytes: this.options.maxGopBytes,
        playersPerTurn: this.options.playersPerTurn,
      })
      this.streams.set(key, stream)
    }
    return stream
  }

  /** Forgets a stream nobody publishes or plays any more (its cache goes with it). */
  release(stream: LiveStream | undefined): void {
    if (
      stream &&
      stream.publisher === undefined &&
      stream.players.size === 0 &&
      this.streams.get(stream.key) === stream
    )
      this.streams.delete(stream.key)
  }

  /** Runs `authorize`; a throw or a non-true answer is a refusal. */
  async authorize(request: AuthorizeRequest): Promise<boolean> {
    const decide = this.options.authorize
    if (decide === undefined) return true
    try {
      return (await decide(request)) === true
    } catch (error) {
      debug('rtmp: authorize threw for %s %s/%s: %o', request.action, request.app, request.stream, error)
      return false
    }
  }

  /** Emits an event; a listener that throws cannot break the session that caused it. */
  emit<K extends keyof RtmpServerEvents>(event: K, ...args: RtmpServerEvents[K]): void {
    try {
      this.#emit(event, ...args)
    } catch (error) {
      debug('rtmp: a %s listener threw: %o', event, error)
    }
  }

  failed(error: WirekitError, session: RtmpSession): void {
    this.emit('sessionError', error, session)
  }

  timeoutError(what: string): RtmpError {
    return new RtmpError(ErrorCodes.RTMP_TIMEOUT, what)
  }

  #sweep(): void {
    const now = Date.now()
    for (const stream of this.streams.values()) if (stream.publisher) stream.tick(now)
    for (const session of this.sessions) session.sweep(now)
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const session of [...this.sessions]) session.end()
  }
}
