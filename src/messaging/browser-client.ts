// MessageClient for browsers (and any runtime with a platform WebSocket): the same exactly-once contract
// as the Node client, over ws:// or wss://, with no node: imports and no Buffer. Heartbeat deadlines are
// judged by the clock (background tabs tick timers about once a minute); `online`, `visibilitychange`
// and `pageshow` check the connection at once; `persist` keeps the session in Web Storage across reloads.
//
//   connect() ─► connecting ──WELCOME──► connected ──lost, heartbeat, GOAWAY{reconnect}──► reconnecting
//                    ▲                                                                        │
//                    └──────────────── backoff (jittered) or a life event ─────────────────────┘
//   close(), GOAWAY { reconnect: false }, maxAttempts spent ─► closed

import {
  AbortError,
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
import { loadSession, type PersistMode, type Saved, saveSession } from './session/web-storage.ts'
import { HIGH_WATER_BYTES, openWebSocket, whenDrained } from './transport/websocket-client.ts'
import {
  decodeData,
  decodeEnvelope,
  encodeEnvelope,
  Format,
  Kind,
  type Message,
} from './wire/envelope-bytes.ts'

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
}

export type RequestOptions = { timeout?: number; signal?: AbortSignal }

type Entry = {
  seq: number
  kind: number
  id: number
  name: string
  format: number
  body: Uint8Array | undefined
  bytes: Uint8Array
  done?: { resolve(): void; reject(error: Error): void }
}
type Pending = {
  method: string
  resolve(value: unknown): void
  reject(error: Error): void
  timer: ReturnType<typeof setTimeout>
}

const ACK_DELAY_MS = 20
const ACK_EVERY = 64

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
  #handlers = new Map<string, (data: unknown, client: MessageClient) => unknown>()
  #ws: WebSocket | undefined
  #established = false
  #sessionId: string | undefined
  /** The server's resume token, if it issues one (kept with the session id). */
  #resumeToken: string | undefined
  #nextSeq = 1
  #lastReceived = 0
  #ackSent = 0
  #outbox: Entry[] = []
  #outboxBytes = 0
  /** Highest sequence number written to any transport. */
  #sentUpTo = 0
  #pending = new Map<number, Pending>()
  #nextId = 1
  #heartbeat = { interval: 15_000, timeout: 10_000 }
  #lastInbound = 0
  #lastOutbound = 0
  #lastPing = 0
  #probeDeadline = 0
  #attempt = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #ackTimer: ReturnType<typeof setTimeout> | undefined
  #tick: ReturnType<typeof setInterval> | undefined
  #cancelDrain: (() => void) | undefined
  #saveTimer: ReturnType<typeof setTimeout> | undefined
  #unloading = false
  #welcome: { resolve(): void; reject(error: Error): void } | undefined
  #onLife = (event: Event) => this.#lifeEvent(event)

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
    if (options.persist !== undefined) this.#restore(loadSession(options.persist, this.#storageKey))
    const target = globalThis as unknown as EventTarget & { document?: EventTarget }
    if (typeof target.addEventListener === 'function') {
      for (const name of ['online', 'offline', 'pageshow', 'pagehide'])
        target.addEventListener(name, this.#onLife)
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
    try {
      const entry = this.#enqueue(Kind.EVENT, 0, event, data)
      return new Promise((resolve, reject) => {
        entry.done = { resolve, reject }
      })
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error
      return Promise.reject(error)
    }
  }

  /** Volatile sends: written if connected, otherwise dropped; never resent. Returns whether written. */
  get volatile(): { emit(event: string, data?: unknown): boolean } {
    return {
      emit: (event, data) => {
        const ws = this.#ws
        if (!this.#established || ws === undefined || ws.bufferedAmount >= HIGH_WATER_BYTES) return false
        ws.send(encodeEnvelope({ kind: Kind.VOLATILE, name: event, data }))
        return true
      },
    }
  }

  /** Calls a server handler; completes once even across reconnects. */
  request<T = unknown>(method: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    const id = this.#nextId++
    let entry: Entry
    try {
      entry = this.#enqueue(Kind.REQUEST, id, method, data)
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error
      return Promise.reject(error)
    }
    return new Promise<T>((resolve, reject) => {
      const timeout = options.timeout ?? 30_000
      const fail = (error: Error) => {
        this.#pending.delete(id)
        clearTimeout(pending.timer)
        reject(error)
      }
      const pending: Pending = {
        method,
        resolve: resolve as (value: unknown) => void,
        reject: fail,
        timer: setTimeout(
          () =>
            fail(
              new TimeoutError(
                ErrorCodes.REQUEST_TIMEOUT,
                `Request "${method}" timed out after ${timeout} ms`,
              ),
            ),
          timeout,
        ),
      }
      this.#pending.set(id, pending)
      entry.done = { resolve() {}, reject: fail }
      options.signal?.addEventListener('abort', () =>
        fail(new AbortError(ErrorCodes.ABORTED, `Request "${method}" aborted`)),
      )
    })
  }

  /** Handles requests the server makes with `peer.request(method, data)`. */
  handle<T = unknown>(method: string, handler: (data: T, client: MessageClient) => unknown): this {
    if (typeof handler !== 'function')
      throw new InvalidArgumentError('handle(method, handler) needs a function')
    this.#handlers.set(method, handler as (data: unknown, client: MessageClient) => unknown)
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
    if (this.#established) this.#ws?.send(encodeEnvelope({ kind: Kind.BYE, format: Format.EMPTY }))
    this.#finish(new ClosedError(ErrorCodes.CLOSED, 'Client closed'))
    if (this.#options.persist !== undefined) saveSession(this.#options.persist, this.#storageKey, undefined)
  }

  // ——— sending ———

  #enqueue(kind: number, id: number, name: string, data: unknown): Entry {
    if (this.#state === 'closed') throw new ClosedError(ErrorCodes.CLOSED, 'Client is closed')
    const probe = encodeEnvelope({ kind, seq: 1, id: kind === Kind.EVENT ? undefined : id, name, data })
    const limits = this.#options.outbox
    const maxBytes = Math.min(
      limits?.maxBytes ?? 8 * 1024 * 1024,
      this.#options.persist ? (this.#options.persistMaxBytes ?? 1024 * 1024) : Number.POSITIVE_INFINITY,
    )
    if (
      this.#outbox.length >= (limits?.maxMessages ?? 10_000) ||
      this.#outboxBytes + probe.length > maxBytes
    ) {
      throw new BackpressureError(
        ErrorCodes.BACKPRESSURE,
        `Outbox full: ${this.#outbox.length} messages / ${this.#outboxBytes} bytes unacknowledged`,
      )
    }
    const seq = this.#nextSeq++
    // The probe was encoded with seq 1: patch the real number in place (same width).
    const view = new DataView(probe.buffer)
    view.setUint32(2, seq % 0x1_0000_0000, true)
    view.setUint16(6, Math.floor(seq / 0x1_0000_0000), true)
    const format = probe[1]! & 0b11
    const entry: Entry = { seq, kind, id, name, format, body: undefined, bytes: probe }
    this.#outbox.push(entry)
    this.#outboxBytes += probe.length
    this.#pump()
    this.#persistSoon()
    return entry
  }

  /** Writes unsent outbox entries while the socket's buffer is below the high-water mark. */
  #pump(): void {
    const ws = this.#ws
    if (!this.#established || ws === undefined || this.#cancelDrain !== undefined) return
    const box = this.#outbox
    // Entries are in seq order; the first unsent one is found from the back.
    let i = box.length
    while (i > 0 && box[i - 1]!.seq > this.#sentUpTo) i--
    for (; i < box.length; i++) {
      if (ws.bufferedAmount >= HIGH_WATER_BYTES) {
        this.#cancelDrain = whenDrained(ws, () => {
          this.#cancelDrain = undefined
          this.#pump()
        })
        return
      }
      const entry = box[i]!
      this.#send(entry.bytes)
      this.#sentUpTo = entry.seq
    }
  }

  #send(bytes: Uint8Array): void {
    this.#lastOutbound = Date.now()
    this.#ws!.send(bytes)
    // Any message carries our position implicitly only via ACK frames: acks stay separate and small.
  }

  #ackSoon(): void {
    const unacked = this.#lastReceived - this.#ackSent
    if (unacked === 0) return
    if (unacked >= ACK_EVERY) this.#ackNow()
    else this.#ackTimer ??= setTimeout(() => this.#ackNow(), ACK_DELAY_MS)
  }

  #ackNow(): void {
    clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    if (!this.#established || this.#lastReceived === this.#ackSent) return
    this.#ackSent = this.#lastReceived
    this.#send(encodeEnvelope({ kind: Kind.ACK, ack: this.#lastReceived, format: Format.EMPTY }))
    this.#persistSoon()
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
    this.#established = false
    this.#lastInbound = Date.now()
    ws.onmessage = (event) => this.#receive(ws, event.data)
    ws.onclose = (event) =>
      this.#lost(ws, new ClosedError(ErrorCodes.CONNECTION_RESET, `WebSocket closed (${event.code})`))
    const hello: Record<string, unknown> = { v: 1, lastReceived: this.#lastReceived }
    if (this.#sessionId !== undefined) hello.session = this.#sessionId
    if (this.#resumeToken !== undefined) hello.token = this.#resumeToken
    if (this.#options.credentials !== undefined) hello.credentials = this.#options.credentials
    ws.send(encodeEnvelope({ kind: Kind.HELLO, data: hello }))
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

  #onWelcome(welcome: Record<string, unknown>): void {
    if (typeof welcome.session !== 'string' || typeof welcome.lastReceived !== 'number') {
      throw new ProtocolError(ErrorCodes.PROTOCOL, 'Bad handshake: WELCOME without session or position')
    }
    const resumed = welcome.resumed === true && welcome.session === this.#sessionId
    if (this.#sessionId !== undefined && !resumed) this.#sessionLost()
    this.#sessionId = welcome.session
    if (typeof welcome.token === 'string') this.#resumeToken = welcome.token
    const hb = welcome.heartbeat as { interval?: unknown; timeout?: unknown } | undefined
    if (typeof hb?.interval === 'number' && typeof hb.timeout === 'number') {
      this.#heartbeat = { interval: hb.interval, timeout: hb.timeout }
    }
    const peerReceived = resumed ? welcome.lastReceived : 0
    if (peerReceived >= this.#nextSeq) {
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad handshake: server acknowledges ${peerReceived}, never sent`,
      )
    }
    this.#acked(peerReceived)
    this.#sentUpTo = peerReceived
    this.#established = true
    // The HELLO told the server our position.
    this.#ackSent = this.#lastReceived
    this.#attempt = 0
    this.#startTicking()
    this.#pump()
    this.#setState('connected')
    this.#persistSoon()
    if (resumed) this.#listeners.dispatch('resumed')
    const waiter = this.#welcome
    this.#welcome = undefined
    waiter?.resolve()
  }

  /** The server did not know our session: what it may have seen is reported lost, the rest carried over. */
  #sessionLost(): void {
    const lost = this.#outbox.filter((e) => e.seq <= this.#sentUpTo)
    const kept = this.#outbox.filter((e) => e.seq > this.#sentUpTo)
    const unacknowledged = lost.map((e) => ({ seq: e.seq, kind: e.kind, name: e.name }))
    const error = new MessagingError(
      ErrorCodes.SESSION_LOST,
      `Session ${this.#sessionId} could not be resumed`,
      {
        unacknowledged,
      },
    )
    for (const e of lost) e.done?.reject(error)
    this.#nextSeq = 1
    for (const e of kept) {
      e.seq = this.#nextSeq++
      const view = new DataView(e.bytes.buffer, e.bytes.byteOffset)
      view.setUint32(2, e.seq, true)
      view.setUint16(6, 0, true)
    }
    this.#outbox = kept
    this.#outboxBytes = kept.reduce((n, e) => n + e.bytes.length, 0)
    this.#sentUpTo = 0
    this.#lastReceived = 0
    this.#resumeToken = undefined
    this.#listeners.dispatch('sessionLost', unacknowledged, error)
  }

  #acked(ack: number): void {
    const box = this.#outbox
    let n = 0
    while (n < box.length && box[n]!.seq <= ack) {
      const entry = box[n++]!
      this.#outboxBytes -= entry.bytes.length
      if (entry.kind === Kind.EVENT) entry.done?.resolve()
    }
    if (n > 0) {
      box.splice(0, n)
      this.#persistSoon()
    }
  }

  /** Drops a transport (error: why) and reconnects unless the client is done. */
  #drop(ws: WebSocket, error: Error): void {
    if (ws.readyState <= 1) ws.close(4000)
    this.#lost(ws, error)
  }

  #lost(ws: WebSocket, error: Error): void {
    if (ws !== this.#ws) return
    ws.onmessage = ws.onclose = null
    const wasEstablished = this.#established
    this.#ws = undefined
    this.#established = false
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
    clearTimeout(this.#ackTimer)
    clearTimeout(this.#saveTimer)
    const ws = this.#ws
    if (ws !== undefined) this.#drop(ws, reason)
    this.#stopTicking()
    const error = new ClosedError(ErrorCodes.CLOSED, `Client closed: ${reason.message}`, { cause: reason })
    for (const entry of this.#outbox) entry.done?.reject(error)
    this.#outbox = []
    for (const pending of [...this.#pending.values()]) pending.reject(error)
    const target = globalThis as unknown as EventTarget & { document?: EventTarget }
    if (typeof target.removeEventListener === 'function') {
      for (const name of ['online', 'offline', 'pageshow', 'pagehide'])
        target.removeEventListener(name, this.#onLife)
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
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          'Bad frame: a text WebSocket message (envelopes are binary)',
        )
      }
      this.#onMessage(decodeEnvelope(new Uint8Array(data)))
      this.#ackSoon()
    } catch (error) {
      this.#drop(ws, error as Error)
    }
  }

  #onMessage(m: Message): void {
    const kind = m.kind
    if (!this.#established) {
      if (kind === Kind.WELCOME) this.#onWelcome(decodeData(m) as Record<string, unknown>)
      else if (kind === Kind.GOAWAY) this.#onGoaway(decodeData(m))
      else {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: kind ${kind} before the handshake completed`,
        )
      }
      return
    }
    if (m.ack > 0 || kind === Kind.ACK) {
      if (m.ack >= this.#nextSeq)
        throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ack ${m.ack} of a message never sent`)
      this.#acked(m.ack)
    }
    if (m.seq > 0) {
      if (m.seq <= this.#lastReceived) return
      if (m.seq !== this.#lastReceived + 1) {
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: sequence ${m.seq} after ${this.#lastReceived}`,
        )
      }
      this.#lastReceived = m.seq
      const data = decodeData(m)
      if (kind === Kind.EVENT) this.#listeners.dispatch(m.name, data)
      else if (kind === Kind.REQUEST) this.#onRequest(m.id, m.name, data)
      else if (kind === Kind.RESPONSE || kind === Kind.ERROR) this.#settle(m.id, kind, data)
      else
        throw new ProtocolError(
          ErrorCodes.PROTOCOL,
          `Bad envelope: kind ${kind} cannot carry a sequence number`,
        )
      return
    }
    if (kind === Kind.VOLATILE) this.#listeners.dispatch(m.name, decodeData(m))
    else if (kind === Kind.PING) this.#send(encodeEnvelope({ kind: Kind.PONG, format: Format.EMPTY }))
    else if (kind === Kind.GOAWAY) this.#onGoaway(decodeData(m))
    else if (kind !== Kind.ACK && kind !== Kind.PONG) {
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind}`)
    }
  }

  #settle(id: number, kind: number, data: unknown): void {
    const pending = this.#pending.get(id)
    if (pending === undefined) return
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    if (kind === Kind.RESPONSE) pending.resolve(data)
    else {
      const e = (data ?? {}) as { code?: unknown; message?: unknown }
      const code = typeof e.code === 'string' ? e.code : ErrorCodes.REMOTE_ERROR
      pending.reject(
        new MessagingError(
          code as WirekitError['code'],
          `Request "${pending.method}" failed: ${String(e.message)}`,
        ),
      )
    }
  }

  #onRequest(id: number, method: string, data: unknown): void {
    const handler = this.#handlers.get(method)
    const reply = (kind: number, value: unknown) => {
      if (this.#state !== 'closed') this.#enqueueReply(kind, id, value)
    }
    if (handler === undefined) {
      reply(Kind.ERROR, { code: ErrorCodes.NO_HANDLER, message: `no handler for "${method}"`, remote: false })
      return
    }
    const failed = (error: unknown) => {
      const e = error as { code?: unknown; message?: unknown }
      reply(Kind.ERROR, {
        code: typeof e?.code === 'string' ? e.code : ErrorCodes.REMOTE_ERROR,
        message: typeof e?.message === 'string' ? e.message : String(error),
        remote: true,
      })
    }
    try {
      Promise.resolve(handler(data, this)).then((value) => reply(Kind.RESPONSE, value), failed)
    } catch (error) {
      failed(error)
    }
  }

  /** Responses are not refused by the outbox bounds: they are bounded by the requests received. */
  #enqueueReply(kind: number, id: number, value: unknown): void {
    const seq = this.#nextSeq++
    const bytes = encodeEnvelope({ kind, seq, id, data: value })
    this.#outbox.push({ seq, kind, id, name: '', format: bytes[1]! & 0b11, body: undefined, bytes })
    this.#outboxBytes += bytes.length
    this.#pump()
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
    const { interval, timeout } = this.#heartbeat
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
    if (ws === undefined || !this.#established) return
    const now = Date.now()
    const { interval, timeout } = this.#heartbeat
    const idle = now - this.#lastInbound
    if (idle >= interval + timeout || (this.#probeDeadline > 0 && now >= this.#probeDeadline)) {
      this.#drop(
        ws,
        new TimeoutError(ErrorCodes.HEARTBEAT_TIMEOUT, `Heartbeat timeout: nothing received for ${idle} ms`),
      )
    } else if (
      (idle >= interval || now - this.#lastOutbound >= interval) &&
      now - this.#lastPing >= interval
    ) {
      this.#ping()
    }
  }

  #ping(): void {
    this.#lastPing = Date.now()
    this.#send(encodeEnvelope({ kind: Kind.PING, format: Format.EMPTY }))
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
    if (ws === undefined || !this.#established) return
    if (ws.readyState !== 1) {
      this.#drop(ws, new ClosedError(ErrorCodes.CONNECTION_RESET, 'WebSocket no longer open'))
      return
    }
    // A pong (or anything) within a short deadline proves the connection; #check enforces it.
    this.#probeDeadline = Date.now() + Math.min(this.#heartbeat.timeout, 3000)
    this.#ping()
  }

  // ——— persistence ———

  get #storageKey(): string {
    return this.#options.persistKey ?? `wirekit:${this.url}`
  }

  #restore(saved: Saved | undefined): void {
    if (saved === undefined) return
    this.#sessionId = saved.session
    this.#resumeToken = saved.token
    this.#lastReceived = saved.lastReceived
    this.#nextSeq = saved.nextSeq
    this.#sentUpTo = saved.sentUpTo
    for (const bytes of saved.outbox) {
      const m = decodeEnvelope(bytes)
      this.#outbox.push({
        seq: m.seq,
        kind: m.kind,
        id: m.id,
        name: m.name,
        format: m.format,
        body: undefined,
        bytes,
      })
      this.#outboxBytes += bytes.length
      if (m.kind === Kind.REQUEST && m.id >= this.#nextId) this.#nextId = m.id + 1
    }
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
    try {
      this.#save(mode)
    } catch (error) {
      this.#listeners.dispatch('error', error)
    }
  }

  #save(mode: PersistMode): void {
    saveSession(mode, this.#storageKey, {
      session: this.#sessionId as string,
      token: this.#resumeToken,
      lastReceived: this.#lastReceived,
      nextSeq: this.#nextSeq,
      sentUpTo: this.#sentUpTo,
      outbox: this.#outbox.map((e) => e.bytes),
    })
  }
}

/** Errors after which retrying cannot help. */
function isFatal(error: Error): boolean {
  const code = (error as WirekitError).code
  return code === ErrorCodes.AUTH_FAILED || code === ErrorCodes.AUTH_TIMEOUT
}
