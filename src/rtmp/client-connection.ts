// The client side of an RTMP connection: connect, handshake, the connect command, then a read loop
// that answers the protocol (through the chunk stream core), settles command transactions, hands
// status events to whoever waits for them and media to the player. RtmpClient builds on it.
import { ClosedError, ErrorCodes, ProtocolError, RtmpError, WirekitError } from '../errors.ts'
import { AsyncSocket, type TlsOptions } from '../socket/index.ts'
import { splitAggregate } from './aggregate.ts'
import { ChunkStream } from './chunk-stream.ts'
import { type Command, command, decodeCommand, statusOf } from './command.ts'
import { clientAck, clientHello, HANDSHAKE_SIZE } from './handshake.ts'
import { isKnownType, MessageType, type RtmpMessage } from './message.ts'
import type { RtmpUrl } from './url.ts'

export type RtmpClientOptions = {
  /** Connect, handshake and each command reply must come within this (ms). @default 10_000 */
  timeout?: number
  /** TLS options for rtmps:// (CA, pins, servername…). */
  tls?: TlsOptions
  /** Our chunk size. @default 4096 */
  chunkSize?: number
  /** Longest message accepted from the server. @default 8_388_608 */
  maxMessageSize?: number
  /** The flashVer the connect command announces. @default 'FMLE/3.0 (compatible; wirekit)' */
  flashVer?: string
}

/** Media and data messages go here; a returned promise holds the read loop (backpressure). */
export type MessageSink = (message: RtmpMessage) => undefined | Promise<void>

type StatusWaiter = {
  match: (code: string) => boolean
  resolve: (cmd: Command) => void
  reject: (e: Error) => void
}

export class ClientConnection {
  readonly socket: AsyncSocket
  readonly url: RtmpUrl
  readonly core: ChunkStream
  readonly #timeout: number
  readonly #pending = new Map<number, PromiseWithResolvers<Command>>()
  #waiters: StatusWaiter[] = []
  #nextTransaction = 2
  #failure: WirekitError | undefined
  /** Receives audio, video and data messages (the player sets it). */
  onMessage: MessageSink | undefined
  /** Every onStatus, as it arrives (the player ends on UnpublishNotify / Stop). */
  onStatus: ((code: string, cmd: Command) => void) | undefined
  /** A User Control event other than ping (Stream Begin, Stream EOF…): event type and value. */
  onUserControl: ((event: number, value: number) => void) | undefined
  /** The connection ended: undefined for an orderly end. */
  onEnd: ((error: WirekitError | undefined) => void) | undefined
  readonly ended: Promise<void>
  #endedResolve: () => void

  private constructor(socket: AsyncSocket, url: RtmpUrl, options: RtmpClientOptions) {
    this.socket = socket
    this.url = url
    this.#timeout = options.timeout ?? 10_000
    this.core = new ChunkStream({ maxMessageSize: options.maxMessageSize })
    const { promise, resolve } = Promise.withResolvers<void>()
    this.ended = promise
    this.#endedResolve = resolve
  }

  static async open(url: RtmpUrl, options: RtmpClientOptions = {}): Promise<ClientConnection> {
    const timeout = options.timeout ?? 10_000
    const socket = await AsyncSocket.connect({
      host: url.host,
      port: url.port,
      timeout,
      tls: url.secure ? (options.tls ?? true) : undefined,
    })
    const conn = new ClientConnection(socket, url, options)
    try {
      await socket.write(clientHello())
      const answer = await socket.read({ length: 1 + 2 * HANDSHAKE_SIZE, timeout })
      await socket.write(clientAck(answer))
      conn.core.setChunkSize(options.chunkSize ?? 4096)
      void conn.#loop()
      const reply = await conn.call('connect', {
        app: url.app,
        type: 'nonprivate',
        flashVer: options.flashVer ?? 'FMLE/3.0 (compatible; wirekit)',
        tcUrl: url.tcUrl,
        fpad: false,
        capabilities: 15,
        audioCodecs: 0x0fff,
        videoCodecs: 0x00ff,
        videoFunction: 1,
        objectEncoding: 0,
        fourCcList: ['hvc1', 'av01', 'vp09', 'avc1', 'Opus'],
      })
      if (reply.name !== '_result') throw refusal(statusOf(reply), `connect to ${url.tcUrl} refused`)
      return conn
    } catch (error) {
      socket.destroy()
      throw error
    }
  }

  /** Sends a command with a new transaction id and waits for its _result or _error. */
  call(
    name: string,
    object: Record<string, unknown> | null,
    args: (string | number | null)[] = [],
  ): Promise<Command> {
    const transaction = this.#nextTransaction++
    const waiter = Promise.withResolvers<Command>()
    this.#pending.set(transaction, waiter)
    this.core.send(command(name, transaction, object as never, args))
    this.flush().catch(waiter.reject)
    return this.#deadline(waiter.promise, `${name} reply`, () => this.#pending.delete(transaction))
  }

  /** Waits for an onStatus whose code `match`es (an error-level status for the same action rejects). */
  status(match: (code: string) => boolean, what: string): Promise<Command> {
    const { promise, resolve, reject } = Promise.withResolvers<Command>()
    const waiter: StatusWaiter = { match, resolve, reject }
    this.#waiters.push(waiter)
    return this.#deadline(promise, what, () => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter)
    })
  }

  #deadline<T>(promise: Promise<T>, what: string, forget: () => void): Promise<T> {
    if (this.#failure) {
      forget()
      return Promise.reject(this.#failure)
    }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        forget()
        reject(
          new RtmpError(
            ErrorCodes.RTMP_TIMEOUT,
            `no ${what} from ${this.url.tcUrl} within ${this.#timeout} ms`,
          ),
        )
      }, this.#timeout)
    })
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
  }

  /** Queues a message; call flush() (or sendNow) to write it. */
  send(message: RtmpMessage): void {
    this.core.send(message)
  }

  /** Writes what the core has queued; resolves once the kernel took it. */
  flush(): Promise<void> {
    const bytes = this.core.take()
    if (bytes === undefined) return Promise.resolve()
    if (this.#failure) return Promise.reject(this.#failure)
    return this.socket.write(bytes)
  }

  async #loop(): Promise<void> {
    let failure: WirekitError | undefined
    try {
      for (;;) {
        const bytes = await this.socket.read()
        for (const message of this.core.receive(bytes)) {
          const pending = this.#handle(message)
          if (pending !== undefined) await pending
        }
        await this.flush()
      }
    } catch (error) {
      const wk = error instanceof WirekitError ? error : new ProtocolError(ErrorCodes.PROTOCOL, String(error))
      // The server closing after we are done is the normal end of a session.
      failure = wk.code === ErrorCodes.CLOSED ? undefined : wk
    }
    this.#fail(failure ?? new ClosedError(ErrorCodes.CLOSED, `connection to ${this.url.tcUrl} closed`))
    this.onEnd?.(failure)
    this.socket.destroy()
    this.#endedResolve()
  }

  #fail(error: WirekitError): void {
    this.#failure ??= error
    for (const waiter of this.#pending.values()) waiter.reject(error)
    this.#pending.clear()
    for (const waiter of this.#waiters) waiter.reject(error)
    this.#waiters = []
  }

  #handle(message: RtmpMessage): Promise<void> | undefined {
    switch (message.type) {
      case MessageType.COMMAND_AMF0:
      case MessageType.COMMAND_AMF3: {
        const cmd = decodeCommand(
          message.type === MessageType.COMMAND_AMF3 ? message.payload.subarray(1) : message.payload,
        )
        this.#command(cmd)
        return undefined
      }
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
        return this.onMessage?.(message)
      case MessageType.AGGREGATE:
        return this.#aggregate(splitAggregate(message))
      case MessageType.USER_CONTROL:
        if (message.payload.length >= 6)
          this.onUserControl?.(message.payload.readUInt16BE(0), message.payload.readUInt32BE(2))
        return undefined
      default:
        if (!isKnownType(message.type))
          throw new ProtocolError(ErrorCodes.RTMP_CHUNK, `unknown message type ${message.type}`)
        return undefined
    }
  }

  /** Hands an aggregate's messages on one by one, waiting where the consumer asks to. */
  #aggregate(messages: RtmpMessage[]): Promise<void> | undefined {
    for (let i = 0; i < messages.length; i++) {
      const pending = this.onMessage?.(messages[i]!)
      if (pending !== undefined) return pending.then(() => this.#aggregate(messages.slice(i + 1)))
    }
    return undefined
  }

  #command(cmd: Command): void {
    if (cmd.name === '_result' || cmd.name === '_error') {
      const waiter = this.#pending.get(cmd.transactionId)
      this.#pending.delete(cmd.transactionId)
      waiter?.resolve(cmd)
      return
    }
    if (cmd.name !== 'onStatus') return // onBWDone, onFCPublish, |RtmpSampleAccess…
    const status = statusOf(cmd)
    const code = status.code ?? ''
    this.onStatus?.(code, cmd)
    const waiters = this.#waiters
    this.#waiters = []
    for (const waiter of waiters) {
      if (waiter.match(code)) waiter.resolve(cmd)
      else if (status.level === 'error') waiter.reject(refusal(status, `${this.url.tcUrl}: ${code}`))
      else this.#waiters.push(waiter)
    }
  }

  /** Ends the connection at once. */
  destroy(): void {
    this.socket.destroy()
  }
}

/** The typed error for a refused connect, publish or play. */
export function refusal(status: { code?: string; description?: string }, fallback: string): RtmpError {
  const code = status.code ?? ''
  const message = status.description ? `${code}: ${status.description}` : fallback
  return new RtmpError(
    code.endsWith('BadName') ? ErrorCodes.RTMP_STREAM_BUSY : ErrorCodes.RTMP_REJECTED,
    message,
    {
      status: code,
    },
  )
}
