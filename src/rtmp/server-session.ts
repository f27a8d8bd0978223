// One RTMP connection to RtmpServer: the thin I/O loop around the handshake and the chunk stream
// core, and the server's side of the commands.
//
//   handshake ──▶ connect ──▶ createStream ──▶ publish ─(authorize)─▶ Publish.Start ─▶ media in
//                                         └──▶ play ────(authorize)─▶ Play.Start ─▶ cache, then live

import { ErrorCodes, ProtocolError, RtmpError, WirekitError } from '../errors.ts'
import type { AsyncSocket } from '../socket/index.ts'
import { splitAggregate } from './aggregate.ts'
import type { AmfObject } from './amf0.ts'
import { ChunkStream } from './chunk-stream.ts'
import { type Command, command, dataMessage, decodeCommand, onStatus } from './command.ts'
import { answerHandshake, HANDSHAKE_SIZE } from './handshake.ts'
import type { LiveStream, Publisher, Subscriber } from './live-stream.ts'
import { stripSetDataFrame } from './media.ts'
import { type Encoding, type MediaBatch, mediaItem, rtmpEncoding } from './media-item.ts'
import {
  isKnownType,
  MessageType,
  type RtmpMessage,
  setPeerBandwidth,
  UserControl,
  userControl,
} from './message.ts'
import { PlayerGate, take } from './player-gate.ts'
import type { ServerContext, SweptSession } from './server-context.ts'
import type { RtmpAction } from './server-types.ts'
import { splitQuery } from './url.ts'

export class RtmpServerSession implements SweptSession, Subscriber, Publisher {
  readonly id: string
  readonly protocol: 'rtmp' | 'rtmps'
  app = ''
  stream = ''
  query: Record<string, string> = {}
  action: RtmpAction | undefined
  bytesIn = 0
  bytesOut = 0
  readonly #ctx: ServerContext
  readonly #socket: AsyncSocket
  readonly #core: ChunkStream
  readonly #startedAt = Date.now()
  #lastReceived = Date.now()
  /** When we pinged a silent peer (0: not waiting for an answer). */
  #pingedAt = 0
  #live: LiveStream | undefined
  #mediaStreamId = 0
  #nextStreamId = 1
  #gate = new PlayerGate()
  /** This player's RTMP bytes (its stream id, our chunk size), set when it joins a publisher. */
  #encoding: Encoding | undefined
  #closed = false

  constructor(ctx: ServerContext, socket: AsyncSocket) {
    this.#ctx = ctx
    this.#socket = socket
    this.id = ctx.nextId()
    this.protocol = socket.isSecure ? 'rtmps' : 'rtmp'
    this.#core = new ChunkStream({ maxMessageSize: ctx.options.maxMessageSize })
    ctx.add(this)
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress
  }
  get pendingBytes(): number {
    return this.#socket.pendingWriteBytes
  }
  get skippedFrames(): number {
    return this.#gate.skipped
  }

  idleFor(now: number): number {
    return now - this.#lastReceived
  }

  /** Serves the connection until it closes. Never rejects. */
  async run(): Promise<void> {
    const socket = this.#socket
    const timeout = this.#ctx.options.handshakeTimeout
    try {
      const c0c1 = await socket.read({ length: 1 + HANDSHAKE_SIZE, timeout })
      this.#write(answerHandshake(c0c1, Date.now() - this.#startedAt))
      await socket.read({ length: HANDSHAKE_SIZE, timeout })
      this.bytesIn += 1 + 2 * HANDSHAKE_SIZE
      for (;;) {
        const bytes = await socket.read()
        if (this.#closed) return
        this.bytesIn += bytes.length
        this.#lastReceived = Date.now()
        this.#pingedAt = 0
        for (const message of this.#core.receive(bytes)) {
          const pending = this.#handle(message)
          if (pending !== undefined) {
            this.#live?.flush()
            await pending
          }
          if (this.#closed) return
        }
        if (this.action === 'publish') this.#live?.flush()
        this.#flush()
      }
    } catch (error) {
      const failure =
        error instanceof WirekitError ? error : new ProtocolError(ErrorCodes.PROTOCOL, String(error))
      if (failure.code !== ErrorCodes.CLOSED && failure.code !== ErrorCodes.CONNECTION_RESET)
        this.#ctx.failed(failure, this)
      this.end(failure)
    }
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return
    this.bytesOut += bytes.length
    // No promise per write: a failed write closes the socket, which ends this session ('close').
    this.#socket.send(bytes)
  }

  #flush(): void {
    const out = this.#core.take()
    if (out !== undefined) this.#write(out)
  }

  #send(message: RtmpMessage): void {
    this.#core.send(message)
  }

  #handle(message: RtmpMessage): Promise<void> | undefined {
    switch (message.type) {
      case MessageType.COMMAND_AMF0:
        return this.#command(decodeCommand(message.payload), message.streamId)
      case MessageType.COMMAND_AMF3:
        // An AMF3 command message whose values are AMF0 after a format byte (what Flash sends).
        return this.#command(decodeCommand(message.payload.subarray(1)), message.streamId)
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
        this.#media(message)
        return undefined
      case MessageType.AGGREGATE:
        for (const sub of splitAggregate(message)) this.#media(sub)
        return undefined
      default:
        if (!isKnownType(message.type))
          throw new ProtocolError(ErrorCodes.RTMP_CHUNK, `unknown message type ${message.type}`)
        return undefined // user control from the peer (buffer length, pongs), shared objects
    }
  }

  #media(message: RtmpMessage): void {
    if (this.action !== 'publish' || message.streamId !== this.#mediaStreamId || !this.#live) return
    const data = message.type === MessageType.DATA_AMF0 ? stripSetDataFrame(message.payload) : message.payload
    if (data.length > 0) this.#live.receive(mediaItem(message.type as 8 | 9 | 18, message.timestamp, data))
  }

  #command(cmd: Command, streamId: number): Promise<void> | undefined {
    switch (cmd.name) {
      case 'connect':
        this.#connect(cmd)
        return undefined
      case 'createStream':
        this.#send(command('_result', cmd.transactionId, null, [this.#nextStreamId++]))
        return undefined
      case 'publish':
        return this.#publish(cmd, streamId)
      case 'play':
        return this.#play(cmd, streamId)
      case 'FCUnpublish':
      case 'deleteStream':
      case 'closeStream':
        this.#leave()
        return undefined
      default:
        return undefined // releaseStream, FCPublish, getStreamLength, _checkbw…: nothing to answer
    }
  }

  #connect(cmd: Command): void {
    const object = (cmd.object ?? {}) as AmfObject
    const app = splitQuery(typeof object.app === 'string' ? object.app : '')
    this.app = app.name.replace(/\/+$/, '')
    this.query = app.query
    const { windowAckSize, chunkSize } = this.#ctx.options
    this.#core.setWindow(windowAckSize)
    this.#send(setPeerBandwidth(windowAckSize, 2))
    this.#core.setChunkSize(chunkSize)
    this.#send(
      command('_result', cmd.transactionId, { fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1 }, [
        {
          level: 'status',
          code: 'NetConnection.Connect.Success',
          description: 'Connection succeeded.',
          objectEncoding: typeof object.objectEncoding === 'number' ? object.objectEncoding : 0,
        },
      ]),
    )
  }

  /** Parses the stream name and asks `authorize`; false when the session is gone meanwhile. */
  async #admit(cmd: Command, action: RtmpAction): Promise<boolean> {
    const raw = typeof cmd.args[0] === 'string' ? cmd.args[0] : ''
    const { name, query } = splitQuery(raw)
    this.stream = name
    this.query = { ...this.query, ...query }
    if (name === '' || this.action !== undefined) return false
    const allowed = await this.#ctx.authorize({
      app: this.app,
      stream: name,
      query: this.query,
      action,
      session: this,
    })
    return allowed && !this.#closed
  }

  async #publish(cmd: Command, streamId: number): Promise<void> {
    if (!(await this.#admit(cmd, 'publish'))) {
      if (this.stream === '') return this.#refuse(streamId, 'NetStream.Publish.BadName', 'no stream name')
      return this.#refuse(
        streamId,
        'NetStream.Publish.Rejected',
        `publishing ${this.app}/${this.stream} is not allowed`,
      )
    }
    let live = this.#ctx.stream(this.app, this.stream)
    const current = live.publisher
    if (current !== undefined) {
      const { takeover, staleAfter } = this.#ctx.options
      const now = Date.now()
      if (takeover === 'always' || (takeover === 'stale' && current.idleFor(now) >= staleAfter)) {
        // Players stay on: they see the new publisher's headers, not an end of stream.
        live.detach(current)
        current.end(new RtmpError(ErrorCodes.RTMP_STREAM_BUSY, `${live.key}: taken over by a new publisher`))
        live = this.#ctx.stream(this.app, this.stream)
      } else {
        return this.#refuse(streamId, 'NetStream.Publish.BadName', `${live.key} is already being published`)
      }
    }
    this.action = 'publish'
    this.#live = live
    this.#mediaStreamId = streamId
    this.#send(userControl(UserControl.STREAM_BEGIN, streamId))
    this.#send(onStatus(streamId, 'status', 'NetStream.Publish.Start', `${live.key} is now published.`))
    this.#flush()
    live.start(this, Date.now())
    this.#ctx.emit('publish', this)
  }

  async #play(cmd: Command, streamId: number): Promise<void> {
    if (!(await this.#admit(cmd, 'play')))
      return this.#refuse(
        streamId,
        'NetStream.Play.Rejected',
        `playing ${this.app}/${this.stream} is not allowed`,
      )
    const live = this.#ctx.stream(this.app, this.stream)
    this.action = 'play'
    this.#live = live
    this.#mediaStreamId = streamId
    this.#send(userControl(UserControl.STREAM_BEGIN, streamId))
    this.#send(onStatus(streamId, 'status', 'NetStream.Play.Reset', `Playing and resetting ${live.key}.`))
    this.#send(onStatus(streamId, 'status', 'NetStream.Play.Start', `Started playing ${live.key}.`))
    this.#send(dataMessage(streamId, 0, '|RtmpSampleAccess', true, true))
    this.#flush()
    live.addPlayer(this)
    if (live.publisher !== undefined) this.#join(live)
    this.#ctx.emit('play', this)
  }

  /** Sends a refusal, then closes once it is written. */
  #refuse(streamId: number, code: string, description: string): void {
    this.#send(onStatus(streamId, 'error', code, description))
    this.#flush()
    const socket = this.#socket
    this.#closed = true
    this.#ctx.remove(this)
    socket.end().then(
      () => socket.destroy(),
      () => socket.destroy(),
    )
  }

  /** Metadata, sequence headers and the cached GOP: what a decoder needs to start at once. */
  #join(live: LiveStream): void {
    this.#gate = new PlayerGate()
    const encoding = rtmpEncoding(this.#mediaStreamId, this.#core.chunkSize)
    this.#encoding = encoding
    for (const item of live.joinItems()) {
      if (item.keyframe) this.#gate.waiting = false
      this.#write(encoding.encode(item))
    }
  }

  deliver(batch: MediaBatch): void {
    const live = this.#live
    if (live === undefined || this.#encoding === undefined) return
    const { playerBufferBytes } = this.#ctx.options
    const pending = this.#socket.pendingWriteBytes
    const bytes = take(this.#gate, batch, pending, playerBufferBytes, live.hasVideo, this.#encoding)
    if (bytes !== undefined) this.#write(bytes)
  }

  published(live: LiveStream): void {
    this.#send(userControl(UserControl.STREAM_BEGIN, this.#mediaStreamId))
    this.#send(
      onStatus(
        this.#mediaStreamId,
        'status',
        'NetStream.Play.PublishNotify',
        `${live.key} is now published.`,
      ),
    )
    this.#flush()
    this.#join(live)
  }

  unpublished(live: LiveStream): void {
    this.#send(
      onStatus(
        this.#mediaStreamId,
        'status',
        'NetStream.Play.UnpublishNotify',
        `${live.key} is now unpublished.`,
      ),
    )
    this.#send(userControl(UserControl.STREAM_EOF, this.#mediaStreamId))
    this.#flush()
  }

  /** Stops publishing or playing (deleteStream, FCUnpublish, close). */
  #leave(): void {
    const live = this.#live
    const action = this.action
    this.#live = undefined
    this.action = undefined
    if (live === undefined) return
    if (action === 'publish') {
      live.stop(this)
      this.#ctx.emit('unpublish', this)
    } else {
      live.players.delete(this)
      this.#ctx.emit('stop', this)
    }
    this.#ctx.release(live)
  }

  sweep(now: number): void {
    const { pingInterval, pingTimeout, idleTimeout } = this.#ctx.options
    const silent = now - this.#lastReceived
    if (this.#pingedAt > 0 && now - this.#pingedAt >= pingTimeout) {
      this.#fail(this.#ctx.timeoutError(`no data from the peer for ${silent} ms (ping unanswered)`))
    } else if (this.action === undefined && now - this.#startedAt >= idleTimeout) {
      this.#fail(this.#ctx.timeoutError(`neither published nor played within ${idleTimeout} ms`))
    } else if (this.action === 'publish' && silent >= idleTimeout) {
      this.#fail(this.#ctx.timeoutError(`the publisher sent nothing for ${silent} ms`))
    } else if (silent >= pingInterval && this.#pingedAt === 0) {
      this.#pingedAt = now
      this.#send(userControl(UserControl.PING_REQUEST, now - this.#startedAt))
      this.#flush()
    }
  }

  #fail(error: WirekitError): void {
    this.#ctx.failed(error, this)
    this.end(error)
  }

  end(_reason?: Error): void {
    if (this.#closed) {
      this.#leave()
      return
    }
    this.#leave()
    this.#closed = true
    this.#ctx.remove(this)
    this.#socket.destroy()
  }
}
