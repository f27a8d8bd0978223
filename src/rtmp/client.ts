// RtmpClient: publish FLV tags to a server (OBS's and ffmpeg's role), or play a stream as tags.
//   const pub = await RtmpClient.publish('rtmp://host/live/key'); await pub.writeTag(tag); await pub.close()
//   for await (const tag of (await RtmpClient.play('rtmp://host/live/key')).tags()) …
import { InvalidArgumentError, type WirekitError } from '../errors.ts'
import { ClientConnection, type RtmpClientOptions, refusal } from './client-connection.ts'
import { command, statusOf } from './command.ts'
import { FlvReader, type FlvTag } from './flv.ts'
import { withSetDataFrame } from './media.ts'
import { MessageType, type RtmpMessage, UserControl, userControl } from './message.ts'
import { parseRtmpUrl } from './url.ts'

export type { RtmpClientOptions } from './client-connection.ts'

const PLAYER_QUEUE = 256

async function openStream(
  url: string,
  options: RtmpClientOptions,
): Promise<{ conn: ClientConnection; streamId: number }> {
  const conn = await ClientConnection.open(parseRtmpUrl(url), options)
  try {
    const stream = conn.url.stream
    conn.send(command('releaseStream', 0, null, [stream]))
    const created = await conn.call('createStream', null)
    const streamId = created.args[0]
    if (created.name !== '_result' || typeof streamId !== 'number')
      throw refusal(statusOf(created), `createStream refused by ${conn.url.tcUrl}`)
    return { conn, streamId }
  } catch (error) {
    conn.destroy()
    throw error
  }
}

export type PushOptions = {
  /** Send at the pace of the tags' timestamps (like ffmpeg -re) instead of as fast as possible. @default false */
  realtime?: boolean
  /** Called after each tag with the totals so far. */
  onProgress?: (progress: PushProgress) => void
  signal?: AbortSignal
}
export type PushProgress = { tags: number; bytes: number; duration: number }

export class RtmpPublisher {
  readonly #conn: ClientConnection
  readonly #streamId: number
  #closed = false

  constructor(conn: ClientConnection, streamId: number) {
    this.#conn = conn
    this.#streamId = streamId
  }

  /** The server's chunk stream and socket totals. */
  get bytesWritten(): number {
    return this.#conn.socket.bytesWritten
  }

  /**
   * Sends one tag (audio 8, video 9, data 18: an onMetaData is sent as @setDataFrame). Resolves once
   * the kernel took the bytes, so awaiting each write keeps memory flat when the network is slow.
   */
  writeTag(tag: FlvTag): Promise<void> {
    if (tag === null || typeof tag !== 'object' || ![8, 9, 18].includes(tag.type))
      throw new InvalidArgumentError('writeTag() takes { type: 8 | 9 | 18, timestamp, data }')
    if (!Number.isInteger(tag.timestamp) || tag.timestamp < 0)
      throw new InvalidArgumentError(
        `writeTag(): timestamp must be a non-negative integer, got ${tag.timestamp}`,
      )
    const data = Buffer.isBuffer(tag.data) ? tag.data : Buffer.from(tag.data)
    const payload = tag.type === MessageType.DATA_AMF0 ? withSetDataFrame(data) : data
    this.#conn.send({ type: tag.type, streamId: this.#streamId, timestamp: tag.timestamp, payload })
    return this.#conn.flush()
  }

  /** Publishes an FLV byte stream (a file's read stream, process.stdin…). Resolves when it ends. */
  async push(source: AsyncIterable<Uint8Array>, options: PushOptions = {}): Promise<PushProgress> {
    const reader = new FlvReader()
    const progress: PushProgress = { tags: 0, bytes: 0, duration: 0 }
    let first: number | undefined
    let startedAt = 0
    for await (const chunk of source) {
      options.signal?.throwIfAborted()
      for (const tag of reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) {
        if (first === undefined) {
          first = tag.timestamp
          startedAt = performance.now()
        }
        const at = tag.timestamp - first
        if (options.realtime) {
          const wait = at - (performance.now() - startedAt)
          if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
        }
        await this.writeTag(tag)
        progress.tags++
        progress.bytes += tag.data.length
        progress.duration = Math.max(progress.duration, at)
        options.onProgress?.(progress)
      }
    }
    return progress
  }

  /** Abortive close (TCP RST), as when a network or an encoder dies mid-stream. */
  reset(): void {
    this.#closed = true
    this.#conn.socket.reset()
  }

  /** Unpublishes and closes the connection after what was written. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const conn = this.#conn
    try {
      conn.send(command('FCUnpublish', 0, null, [conn.url.stream]))
      conn.send(command('deleteStream', 0, null, [this.#streamId]))
      await conn.flush()
      await conn.socket.end()
    } catch {
      // Already closed: nothing left to say.
    }
    conn.destroy()
  }
}

const SAMPLE_ACCESS = Buffer.from('\x02\x00\x11|RtmpSampleAccess', 'latin1')
const DATA_STATUS = Buffer.from('\x02\x00\x08onStatus', 'latin1')

/** Data messages about the session, not the stream (|RtmpSampleAccess, onStatus NetStream.Data.Start). */
function isControlData(payload: Buffer): boolean {
  return (
    payload.subarray(0, SAMPLE_ACCESS.length).equals(SAMPLE_ACCESS) ||
    payload.subarray(0, DATA_STATUS.length).equals(DATA_STATUS)
  )
}

export class RtmpPlayer {
  readonly #conn: ClientConnection
  #queue: FlvTag[] = []
  #wake: (() => void) | undefined
  #room: (() => void) | undefined
  #done = false
  #error: WirekitError | undefined
  #iterating = false

  constructor(conn: ClientConnection) {
    this.#conn = conn
    conn.onMessage = (message) => this.#push(message)
    conn.onStatus = (code) => {
      if (
        code === 'NetStream.Play.UnpublishNotify' ||
        code === 'NetStream.Play.Stop' ||
        code === 'NetStream.Play.Complete'
      )
        this.#finish(undefined)
    }
    conn.onEnd = (error) => this.#finish(error)
  }

  #push(message: RtmpMessage): undefined | Promise<void> {
    if (this.#done || (message.type === MessageType.DATA_AMF0 && isControlData(message.payload)))
      return undefined
    this.#queue.push({
      type: message.type as 8 | 9 | 18,
      timestamp: message.timestamp,
      data: message.payload,
    })
    this.#wake?.()
    if (this.#queue.length < PLAYER_QUEUE) return undefined
    // The consumer is behind: stop reading until it catches up (TCP pushes back on the server).
    return new Promise<void>((resolve) => {
      this.#room = resolve
    })
  }

  #finish(error: WirekitError | undefined): void {
    if (this.#done) return
    this.#done = true
    this.#error = error
    this.#wake?.()
    this.#room?.()
  }

  /** The stream's tags in order: metadata (type 18), sequence headers, then frames. Ends with the stream. */
  async *tags(): AsyncGenerator<FlvTag> {
    if (this.#iterating) throw new InvalidArgumentError('tags() can be iterated once')
    this.#iterating = true
    try {
      for (;;) {
        const tag = this.#queue.shift()
        if (tag !== undefined) {
          if (this.#queue.length < PLAYER_QUEUE / 2) {
            this.#room?.()
            this.#room = undefined
          }
          yield tag
          continue
        }
        if (this.#done) {
          if (this.#error) throw this.#error
          return
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
        this.#wake = undefined
      }
    } finally {
      this.close()
    }
  }

  /** Stops playing and closes the connection. */
  close(): void {
    this.#finish(undefined)
    this.#conn.destroy()
  }
}

/** Opens RTMP connections: `RtmpClient.publish(url)` and `RtmpClient.play(url)`. */
export const RtmpClient = {
  /** Connects and publishes `rtmp://host[:port]/app/key`; resolves after NetStream.Publish.Start. */
  async publish(url: string, options: RtmpClientOptions = {}): Promise<RtmpPublisher> {
    const { conn, streamId } = await openStream(url, options)
    try {
      conn.send(command('FCPublish', 0, null, [conn.url.stream]))
      const started = conn.status((code) => code === 'NetStream.Publish.Start', 'NetStream.Publish.Start')
      conn.send(command('publish', 0, null, [conn.url.stream, 'live'], streamId))
      await conn.flush()
      await started
      return new RtmpPublisher(conn, streamId)
    } catch (error) {
      conn.destroy()
      throw error
    }
  },

  /**
   * Connects and plays `rtmp://host[:port]/app/key`. Resolves once the server accepts: NetStream.Play.Start
   * or .Reset, or a Stream Begin for the stream (nginx-rtmp with play_restart says nothing else until a
   * publisher comes). A refusal (Play.Rejected, StreamNotFound…) rejects with WK_RTMP_REJECTED.
   */
  async play(url: string, options: RtmpClientOptions = {}): Promise<RtmpPlayer> {
    const { conn, streamId } = await openStream(url, options)
    try {
      const player = new RtmpPlayer(conn)
      const accepted = Promise.withResolvers<void>()
      conn.onUserControl = (event, value) => {
        if (event === UserControl.STREAM_BEGIN && value === streamId) accepted.resolve()
      }
      const started = conn.status(
        (code) => code === 'NetStream.Play.Start' || code === 'NetStream.Play.Reset',
        'NetStream.Play.Start',
      )
      conn.send(command('play', 0, null, [conn.url.stream, -2000], streamId))
      conn.send(userControl(UserControl.SET_BUFFER_LENGTH, streamId, 3000))
      await conn.flush()
      await Promise.race([started, accepted.promise])
      started.catch(() => {})
      conn.onUserControl = undefined
      return player
    } catch (error) {
      conn.destroy()
      throw error
    }
  },
}
