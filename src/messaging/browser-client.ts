// MessageClient for browsers (and any runtime with a platform WebSocket): the same exactly-once contract
// as the Node client, from the same session core (session/core.ts), over ws:// or wss://, with no node:
// imports and no Buffer. This file is the thin loop around the core: the WebSocket, reconnects,
// heartbeat deadlines judged by the clock (background tabs tick timers about once a minute), `online`,
// `visibilitychange` and `pageshow` checks, and `persist` (the session in Web Storage across reloads).
//
//   connect() ─► connecting ──WELCOME──► connected ──lost, heartbeat, GOAWAY{reconnect}──► reconnecting
//                    ▲                                                                        │
//                    └──────────────── backoff (jittered) or a life event ─────────────────────┘
//   close(), GOAWAY { reconnect: false }, maxAttempts spent ─► closed

import {
  BackpressureError,
  ClosedError,
  ConnectError,
  ErrorCodes,
  InvalidArgumentError,
  MessagingError,
  ProtocolError,
  TimeoutError,
  type WirekitError,
} from '../errors.ts'
import { type BackoffOptions, backoffDelay } from '../util/backoff.ts'
import { type Listener, Listeners } from './listeners.ts'
import { type RequestOptions, SessionCore, type SessionHost } from './session/core.ts'
import type { RequestHandler } from './session/incoming-requests.ts'
import { describeEntries, type UnacknowledgedMessage } from './session/outbox.ts'
import { webClock } from './session/web-clock.ts'
import {
  entriesOf,
  envelopesOf,
  loadSession,
  type PersistMode,
  type Saved,
  saveSession,
} from './session/web-storage.ts'
import { HIGH_WATER_BYTES, openWebSocket, whenDrained } from './transport/websocket-client.ts'
import { eachFrame } from './transport/websocket-frames.ts'
import {
  BATCH_MAX_BYTES,
  batchLimit,
  continueBatch,
  eachBatched,
  isBatch,
  packBatches,
} from './wire/batch.ts'
import { Format, Kind } from './wire/kinds.ts'
import { webPayloads } from './wire/web-payloads.ts'

export type { RequestOptions }
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

export type BrowserClientOptions = {
  /** Reconnect with exponential backoff and jitter; `false` to close instead. @default {} */
  reconnect?: (BackoffOptions & { maxAttempts?: number; retryFirstConnect?: boolean }) | false
  /** Sent in the HELLO, checked by the server's `authenticate`. */
  credentials?: unknown
  /** Time allowed to open the WebSocket and get the WELCOME, in ms. @default 10_000 */
  connectTimeout?: number
  /** Bounds of unacknowledged messages; beyond them a send rejects with WK_BACKPRESSURE. @default { maxMessages: 10_000, maxBytes: 8 MiB } */
  outbox?: { maxMessages?: number; maxBytes?: number }
  /**
   * Keep the session id, position and unacknowledged messages in sessionStorage ('session') or
   * localStorage ('local') so a page reload resumes the session. @default undefined (not kept)
   */
  persist?: PersistMode
  /** The storage key when persisting (one per client on a page). @default 'wirekit:' + url */
  persistKey?: string
  /** Most bytes kept in storage; a send beyond it rejects with WK_BACKPRESSURE. @default 1 MiB */
  persistMaxBytes?: number
  /**
   * Offer batch envelopes (several envelopes in one WebSocket message, used only when the server
   * agrees): a browser spends about the same CPU per WebSocket message whatever its size. @default true
   */
  batch?: boolean
}

const ACK_DELAY_MS = 20
const DEFAULT_MAX_FRAME = 1024 * 1024
const BYE = Uint8Array.of(Kind.BYE, Format.EMPTY)
const LIFE_EVENTS = ['online', 'offline', 'pageshow', 'pagehide']

/**
 * A messaging client for browsers.
 * @example
 * import { MessageClient } from '@wirekit/core/client'
 * const client = await MessageClient.connect('wss://example.com/ws', { persist: 'session' })
 * client.on('chat', (msg) => console.log(msg))
 * await client.emit('chat', { text: 'hello' })
 */
export class MessageClient {
  readonly url: string
  #options: BrowserClientOptions
  #state: ClientState = 'connecting'
  #listeners = new Listeners()
  #handlers = new Map<string, RequestHandler<MessageClient>>()
  #core: SessionCore
  #ws: WebSocket | undefined
  #sessionId: string | undefined
  /** The server's resume token, if it issues one (kept with the session id). */
  #resumeToken: string | undefined
  #lastInbound = 0
  #lastOutbound = 0
  #probeDeadline = 0
  #attempt = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #tick: ReturnType<typeof setInterval> | undefined
  #cancelDrain: (() => void) | undefined
  /** The largest batch the server takes (0: one envelope per message). We take BATCH_MAX_BYTES if offered. */
  #sendBatch = 0
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  #unloading = false
  #welcome: { resolve(): void; reject(error: Error): void } | undefined
  #onLife = (event: Event) => this.#lifeEvent(event)
  /** A batch's rest and the messages after it, waiting for the next task (see #take). */
  #held: Uint8Array[] | undefined
  #heldAt = 0
  #one = (envelope: Uint8Array): boolean => {
    if (this.#ws === undefined) return true
    this.#core.receive(envelope)
    return envelope[0]! >= Kind.RESPONSE && envelope[0]! <= Kind.ACK
  }

  static async connect(url: string, options: BrowserClientOptions = {}): Promise<MessageClient> {
    const client = new MessageClient(url, options)
    const reconnect = options.reconnect === false ? undefined : options.reconnect
    for (;;) {
      try {
        await client.#open()
        return client
      } catch (error) {
        const retry =
          reconnect?.retryFirstConnect === true &&
          client.#state !== 'closed' &&
          !isFatal(error as Error) &&
          client.#attempt < (reconnect.maxAttempts ?? Number.POSITIVE_INFINITY)
        if (!retry) {
          client.#finish(error as Error)
          throw error
        }
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(client.#attempt++, reconnect)))
      }
    }
  }

  private constructor(url: string, options: BrowserClientOptions) {
    if (!/^wss?:\/\//.test(url)) throw new InvalidArgumentError(`Not a ws:// or wss:// URL: "${url}"`)
    this.url = url
    this.#options = options
    const limits = options.outbox
    this.#core = new SessionCore(this.#host(), {
      payloads: webPayloads,
      clock: webClock,
      maxFrameLength: DEFAULT_MAX_FRAME,
      limits: {
        maxMessages: limits?.maxMessages,
        maxBytes: Math.min(
          limits?.maxBytes ?? 8 * 1024 * 1024,
          options.persist ? (options.persistMaxBytes ?? 1024 * 1024) : Number.POSITIVE_INFINITY,
        ),
      },
      context: this,
      pings: true,
      ackDelay: ACK_DELAY_MS,
      acceptsMsgpack: false,
    })
    if (options.persist !== undefined) this.#restore(loadSession(options.persist, this.#storageKey))
    const target = globalThis as unknown as EventTarget & { document?: EventTarget }
    if (typeof target.addEventListener === 'function') {
      for (const name of LIFE_EVENTS) target.addEventListener(name, this.#onLife)
      target.document?.addEventListener('visibilitychange', this.#onLife)
    }
  }

  get state(): ClientState {
    return this.#state
  }

  get connected(): boolean {
    return this.#state === 'connected'
  }

  get sessionId(): string | undefined {
    return this.#sessionId
  }

  /** Sends an event; resolves when the server acknowledges it. While disconnected it waits in the outbox. */
  emit(event: string, data?: unknown): Promise<void> {
    if (this.#state === 'closed')
      return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'Client is closed'))
    return this.#core.sendEvent(event, data)
  }

  /** Volatile sends: written if connected, otherwise dropped; never resent. Returns whether queued. */
  get volatile(): { emit(event: string, data?: unknown): boolean } {
    return {
      emit: (event, data) => {
        const ws = this.#ws
        if (ws === undefined || ws.bufferedAmount >= HIGH_WATER_BYTES) return false
        return this.#core.sendVolatile(event, data)
      },
    }
  }

  /** Calls a server handler; completes once even across reconnects. */
  request<T = unknown>(method: string, data?: unknown, options?: RequestOptions): Promise<T> {
    if (this.#state === 'closed')
      return Promise.reject(new ClosedError(ErrorCodes.CLOSED, 'Client is closed'))
    return this.#core.sendRequest(method, data, options) as Promise<T>
  }

  /** Handles requests the server makes with `peer.request(method, data)`. */
  handle<T = unknown>(method: string, handler: (data: T, client: MessageClient) => unknown): this {
    if (typeof handler !== 'function')
      throw new InvalidArgumentError('handle(method, handler) needs a function')
    this.#handlers.set(method, handler as RequestHandler<MessageClient>)
    return this
  }

  /** Server events by name; 'state', 'disconnect', 'resumed', 'sessionLost', 'close', 'error'. */
  on(event: string, listener: Listener): this {
    this.#listeners.on(event, listener)
    return this
  }

  off(event: string, listener: Listener): this {
    this.#listeners.off(event, listener)
    return this
  }

  once(event: string, listener: Listener): this {
    this.#listeners.once(event, listener)
    return this
  }

  /** Ends the session: the server forgets it and unacknowledged sends reject with WK_CLOSED. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return
    if (this.#core.established) this.#ws?.send(BYE)
    this.#finish(new ClosedError(ErrorCodes.CLOSED, 'Client closed'))
    if (this.#options.persist !== undefined) saveSession(this.#options.persist, this.#storageKey, undefined)
  }

  // ——— the core's owner ———

  #host(): SessionHost {
    let flushQueued = false
    const flush = () => {
      flushQueued = false
      this.#flush()
    }
    return {
      onEvent: (name, data) => this.#listeners.dispatch(name, data),
      handlerFor: (method) => this.#handlers.get(method) as RequestHandler<unknown> | undefined,
      onControl: (kind, payload) => this.#onControl(kind, payload),
      onOutboxFull: (size) => {
        const outbox = this.#core.outbox
        throw new BackpressureError(
          ErrorCodes.BACKPRESSURE,
          `Outbox full: ${outbox.count} messages / ${outbox.bytes} bytes unacknowledged (adding ${size})`,
        )
      },
      // Everything queued in one task goes out together, in one microtask after it.
      schedule: () => {
        this.#persistSoon()
        if (flushQueued) return
        flushQueued = true
        queueMicrotask(flush)
      },
      flushNow: () => this.#flush(),
      delayAck: (ms) => {
        setTimeout(() => this.#core.ackTimerFired(), ms)
      },
    }
  }

  /** Writes what the core has pending while the socket's buffer is below the high-water mark. */
  #flush(): void {
    const ws = this.#ws
    const writable = ws !== undefined && ws.readyState === 1 && ws.bufferedAmount < HIGH_WATER_BYTES
    const batch = this.#core.flush(writable && this.#cancelDrain === undefined)
    if (batch !== undefined) {
      this.#lastOutbound = Date.now()
      if (this.#sendBatch > 0) packBatches(batch, this.#sendBatch, newBytes, (message) => ws!.send(message))
      else eachFrame(batch, (frame) => ws!.send(frame))
    }
    if (ws !== undefined && ws.bufferedAmount >= HIGH_WATER_BYTES && this.#cancelDrain === undefined) {
      this.#cancelDrain = whenDrained(ws, () => {
        this.#cancelDrain = undefined
        if (this.#core.hasWork) this.#core.schedule()
      })
    }
  }

  // ——— connecting ———

  async #open(): Promise<void> {
    this.#setState('connecting')
    const timeout = this.#options.connectTimeout ?? 10_000
    const ws = await openWebSocket(this.url, timeout)
    if (this.#state === 'closed') {
      ws.close()
      throw new ClosedError(ErrorCodes.CLOSED, 'Client closed while connecting')
    }
    this.#ws = ws
    this.#sendBatch = 0
    this.#lastInbound = Date.now()
    ws.onmessage = (event) => this.#receive(ws, event.data)
    ws.onclose = (event) =>
      this.#lost(ws, new ClosedError(ErrorCodes.CONNECTION_RESET, `WebSocket closed (${event.code})`))
    const hello: Record<string, unknown> = { v: 1, lastReceived: this.#core.lastReceived }
    if (this.#sessionId !== undefined) hello.session = this.#sessionId
    if (this.#resumeToken !== undefined) hello.token = this.#resumeToken
    if (this.#options.credentials !== undefined) hello.credentials = this.#options.credentials
    // Batches cut the browser's cost per WebSocket message (see wire/batch.ts).
    if (this.#options.batch !== false) hello.batch = BATCH_MAX_BYTES
    const body = webPayloads.encode(hello, Format.JSON) as Uint8Array
    const frame = new Uint8Array(2 + body.length)
    frame[0] = Kind.HELLO
    frame[1] = Format.JSON
    frame.set(body, 2)
    ws.send(frame)
    const welcomed = new Promise<void>((resolve, reject) => {
      this.#welcome = { resolve, reject }
    })
    const timer = setTimeout(
      () => this.#drop(ws, new ConnectError(ErrorCodes.CONNECT_TIMEOUT, `No WELCOME within ${timeout} ms`)),
      timeout,
    )
    try {
      await welcomed
    } finally {
      clearTimeout(timer)
    }
  }

  #onControl(kind: Kind, payload: unknown): void {
    if (kind === Kind.GOAWAY) this.#onGoaway(payload)
    else if (kind === Kind.WELCOME && !this.#core.established)
      this.#onWelcome(payload as Record<string, unknown>)
    else throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind}`)
  }

  #onWelcome(welcome: Record<string, unknown>): void {
    if (typeof welcome?.session !== 'string' || typeof welcome.lastReceived !== 'number') {
      throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad handshake: WELCOME without session or position')
    }
    const core = this.#core
    const resumed = welcome.resumed === true && welcome.session === this.#sessionId
    if (this.#sessionId !== undefined && !resumed) this.#sessionLost()
    this.#sessionId = welcome.session
    if (typeof welcome.token === 'string') this.#resumeToken = welcome.token
    const hb = welcome.heartbeat as { interval?: unknown; timeout?: unknown } | undefined
    if (typeof hb?.interval === 'number' && typeof hb.timeout === 'number') {
      core.heartbeat = { interval: hb.interval, timeout: hb.timeout }
    }
    if (typeof welcome.maxFrameLength === 'number') {
      core.maxFrameLength = Math.min(DEFAULT_MAX_FRAME, welcome.maxFrameLength)
    }
    this.#sendBatch = batchLimit(welcome.batch, core.maxFrameLength)
    core.attach(resumed ? welcome.lastReceived : 0)
    this.#attempt = 0
    this.#startTicking()
    this.#setState('connected')
    if (resumed) this.#listeners.dispatch('resumed')
    const waiter = this.#welcome
    this.#welcome = undefined
    waiter?.resolve()
  }

  /** The server did not know our session: what it may have seen is reported lost, the rest carried over. */
  #sessionLost(): void {
    let unacknowledged: UnacknowledgedMessage[] = []
    const error = this.#core.lose((lost) => {
      unacknowledged = describeEntries(lost, webPayloads)
      return new MessagingError(ErrorCodes.SESSION_LOST, `Session ${this.#sessionId} could not be resumed`, {
        unacknowledged,
      })
    })
    this.#resumeToken = undefined
    this.#listeners.dispatch('sessionLost', unacknowledged, error)
  }

  /** Drops a transport (error: why) and reconnects unless the client is done. */
  #drop(ws: WebSocket, error: Error): void {
    if (ws.readyState <= 1) ws.close(4000)
    this.#lost(ws, error)
  }

  #lost(ws: WebSocket, error: Error): void {
    if (ws !== this.#ws) return
    ws.onmessage = ws.onclose = null
    this.#held = undefined
    const wasEstablished = this.#core.established
    this.#ws = undefined
    this.#core.detach()
    this.#cancelDrain?.()
    this.#cancelDrain = undefined
    this.#stopTicking()
    const waiter = this.#welcome
    this.#welcome = undefined
    waiter?.reject(error)
    if (this.#state === 'closed' || !wasEstablished) return
    this.#listeners.dispatch('disconnect', error)
    this.#reconnectLater(error)
  }

  #reconnectLater(reason: Error): void {
    const options = this.#options.reconnect ?? {}
    if (options === false || this.#attempt >= (options.maxAttempts ?? Number.POSITIVE_INFINITY)) {
      this.#finish(reason)
      return
    }
    this.#setState('reconnecting')
    // Jitter spreads the wake-up of many tabs; the first retry is quick, later ones back off.
    this.#retryTimer = setTimeout(
      () => this.#reconnectNow(),
      backoffDelay(this.#attempt++, { jitter: 0.8, ...options }),
    )
  }

  #reconnectNow(): void {
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#open().catch((error: Error) => {
      if (this.#state === 'closed') return
      if (isFatal(error)) this.#finish(error)
      else this.#reconnectLater(error)
    })
  }

  #finish(reason: Error): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#saveTimer)
    const ws = this.#ws
    if (ws !== undefined) this.#drop(ws, reason)
    this.#stopTicking()
    this.#core.end(
      (entries) =>
        new ClosedError(ErrorCodes.CLOSED, `Client closed: ${reason.message}`, {
          cause: reason,
          unacknowledged: describeEntries(entries, webPayloads),
        }),
    )
    const target = globalThis as unknown as EventTarget & { document?: EventTarget }
    if (typeof target.removeEventListener === 'function') {
      for (const name of LIFE_EVENTS) target.removeEventListener(name, this.#onLife)
      target.document?.removeEventListener('visibilitychange', this.#onLife)
    }
    this.#listeners.dispatch('state', 'closed')
    this.#listeners.dispatch('close', reason.message === 'Client closed' ? undefined : reason)
  }

  #setState(state: ClientState): void {
    if (this.#state === state || this.#state === 'closed') return
    this.#state = state
    this.#listeners.dispatch('state', state)
  }

  // ——— receiving ———

  #receive(ws: WebSocket, data: unknown): void {
    if (ws !== this.#ws || this.#unloading) return
    this.#lastInbound = Date.now()
    this.#probeDeadline = 0
    try {
      if (!(data instanceof ArrayBuffer)) {
        throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad frame: text message')
      }
      const message = new Uint8Array(data)
      // A batch we did not offer to take fails its size check (over 0 bytes) in #take.
      if (this.#held !== undefined) this.#held.push(message)
      else this.#take(ws, message, 0)
    } catch (error) {
      this.#drop(ws, error as Error)
    }
  }

  /**
   * Delivers one WebSocket message, a batch from offset `from`. A batch pauses after an envelope that
   * settles a promise (response, error, ack) and goes on in the next task, with what arrived meanwhile
   * held behind it: code awaiting that promise runs before the next envelope, as when each envelope
   * was a WebSocket message of its own.
   */
  #take(ws: WebSocket, message: Uint8Array, from: number): void {
    let stop = -1
    if (!isBatch(message)) this.#core.receive(message)
    else if (from === 0)
      stop = eachBatched(message, this.#options.batch === false ? 0 : BATCH_MAX_BYTES, this.#one)
    else stop = continueBatch(message, from, this.#one)
    this.#core.received()
    this.#persistSoon()
    if (stop < 0) return
    ;(this.#held ??= []).unshift(message)
    this.#heldAt = stop
    // A task, not a timer: background tabs hold timers back to once a second.
    const channel = new MessageChannel()
    // The browser's MessagePort (Node's types describe worker_threads' one).
    const port = channel.port1 as unknown as { onmessage: (() => void) | null; close(): void }
    port.onmessage = () => {
      port.close()
      this.#resume(ws)
    }
    channel.port2.postMessage(0)
  }

  #resume(ws: WebSocket): void {
    const held = this.#held
    this.#held = undefined
    try {
      for (let i = 0; held !== undefined && i < held.length; i++) {
        if (ws !== this.#ws || this.#unloading) return
        this.#take(ws, held[i]!, i === 0 ? this.#heldAt : 0)
        const paused = this.#held as Uint8Array[] | undefined
        if (paused !== undefined) {
          paused.push(...held.slice(i + 1))
          return
        }
      }
    } catch (error) {
      this.#drop(ws, error as Error)
    }
  }

  #onGoaway(payload: unknown): void {
    const g = (payload ?? {}) as { code?: unknown; message?: unknown; reconnect?: unknown }
    const error = new MessagingError(
      (typeof g.code === 'string' ? g.code : ErrorCodes.PROTOCOL) as WirekitError['code'],
      `Server said goodbye: ${String(g.message)}`,
      { reconnect: g.reconnect === true },
    )
    if (g.reconnect !== true) this.#finish(error)
    else if (this.#ws !== undefined) this.#drop(this.#ws, error)
  }

  // ——— heartbeat and page life ———

  #startTicking(): void {
    this.#stopTicking()
    const { interval, timeout } = this.#core.heartbeat
    this.#tick = setInterval(
      () => this.#check(),
      Math.max(50, Math.min(1000, Math.min(interval, timeout) / 4)),
    )
  }

  #stopTicking(): void {
    clearInterval(this.#tick)
    this.#tick = undefined
  }

  /** Judged by the clock, so a timer that fired late (background tab, frozen page) still decides right. */
  #check(): void {
    const ws = this.#ws
    if (ws === undefined || !this.#core.established) return
    const now = Date.now()
    const idle = this.#core.checkLife(now, this.#lastInbound, this.#lastOutbound)
    if (idle >= 0 || (this.#probeDeadline > 0 && now >= this.#probeDeadline)) {
      this.#drop(
        ws,
        new TimeoutError(
          ErrorCodes.HEARTBEAT_TIMEOUT,
          `Heartbeat timeout: nothing received for ${now - this.#lastInbound} ms`,
        ),
      )
    }
  }

  /** online / visibilitychange / pageshow: is the connection still alive? Ask now instead of waiting. */
  #lifeEvent(event: Event): void {
    if (this.#state === 'closed') return
    if (event.type === 'pagehide') {
      this.#saveNow()
      this.#unloading = (event as Event & { persisted?: boolean }).persisted !== true
      return
    }
    if (event.type === 'pageshow') this.#unloading = false
    if (
      event.type === 'visibilitychange' &&
      (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState !== 'visible'
    ) {
      return
    }
    if (event.type === 'offline') return
    if (this.#state === 'reconnecting' && this.#retryTimer !== undefined) {
      this.#reconnectNow()
      return
    }
    const ws = this.#ws
    if (ws === undefined || !this.#core.established) return
    if (ws.readyState !== 1) {
      this.#drop(ws, new ClosedError(ErrorCodes.CONNECTION_RESET, 'WebSocket no longer open'))
      return
    }
    // A pong (or anything) within a short deadline proves the connection; #check enforces it.
    this.#probeDeadline = Date.now() + Math.min(this.#core.heartbeat.timeout, 3000)
    this.#core.ping(Date.now())
  }

  // ——— persistence ———

  get #storageKey(): string {
    return this.#options.persistKey ?? `wirekit:${this.url}`
  }

  #restore(saved: Saved | undefined): void {
    if (saved === undefined) return
    let entries: ReturnType<typeof entriesOf>
    try {
      entries = entriesOf(saved.outbox)
    } catch {
      return // not ours, or damaged: start a new session
    }
    this.#sessionId = saved.session
    this.#resumeToken = saved.token
    this.#core.restore({
      nextSeq: saved.nextSeq,
      lastReceived: saved.lastReceived,
      sentUpTo: saved.sentUpTo,
      entries,
    })
  }

  #persistSoon(): void {
    if (this.#options.persist === undefined || this.#saveTimer !== undefined) return
    this.#saveTimer = setTimeout(() => this.#saveNow(), 100)
  }

  #saveNow(): void {
    clearTimeout(this.#saveTimer)
    this.#saveTimer = undefined
    const mode = this.#options.persist
    if (mode === undefined || this.#sessionId === undefined || this.#state === 'closed') return
    const core = this.#core
    try {
      saveSession(mode, this.#storageKey, {
        session: this.#sessionId,
        token: this.#resumeToken,
        lastReceived: core.lastReceived,
        nextSeq: core.nextSeq,
        sentUpTo: core.outbox.sentUpTo,
        outbox: envelopesOf(core.outbox),
      })
    } catch (error) {
      this.#listeners.dispatch('error', error)
    }
  }
}

const newBytes = (size: number) => new Uint8Array(size)

/** Errors after which retrying cannot help. */
function isFatal(error: Error): boolean {
  const code = (error as WirekitError).code
  return code === ErrorCodes.AUTH_FAILED || code === ErrorCodes.AUTH_TIMEOUT
}
