// The public shapes of RtmpServer: options, sessions as events see them, stats.
import type { WirekitError } from '../errors.ts'

export type RtmpAction = 'publish' | 'play'

/** What `authorize` is asked: decided before Publish.Start / Play.Start is sent. */
export type AuthorizeRequest = {
  app: string
  /** The stream name (key), without its query string. */
  stream: string
  /** Query parameters of the stream name and of the app (`rtmp://h/live?token=…/key?sig=…`). */
  query: Record<string, string>
  action: RtmpAction
  session: RtmpSession
}

/** A connection to the server (RTMP or HTTP-FLV), as events and stats() report it. */
export interface RtmpSession {
  readonly id: string
  readonly protocol: 'rtmp' | 'rtmps' | 'http-flv' | 'ws-flv'
  readonly app: string
  readonly stream: string
  readonly query: Record<string, string>
  readonly action: RtmpAction | undefined
  readonly remoteAddress: string | undefined
  readonly bytesIn: number
  readonly bytesOut: number
  /** Bytes written to the session but not yet taken by the kernel (a player's backlog). */
  readonly pendingBytes: number
  /** Frames a player did not get because it was behind (it resumed at a later keyframe). */
  readonly skippedFrames: number
  /** Ends the session (a publisher's players see the stream end). */
  end(reason?: Error): void
}

export type RtmpServerOptions = {
  /** Decides publish and play requests; throwing or resolving false refuses (Publish.Rejected / Play.Rejected). Default: allow all. */
  authorize?: (request: AuthorizeRequest) => boolean | Promise<boolean>
  /** Keep the frames since the last keyframe so players start at once on a picture. @default true */
  gopCache?: boolean
  /** A GOP larger than this is not cached (late joiners wait for the next keyframe). @default 16_777_216 */
  maxGopBytes?: number
  /** Unsent bytes a player may have queued; past it the player skips to a later keyframe. @default 4_194_304 */
  playerBufferBytes?: number
  /** Our chunk size, announced after connect. @default 4096 */
  chunkSize?: number
  /** Longest message accepted from a peer. @default 8_388_608 */
  maxMessageSize?: number
  /** A new publisher of a key in use: 'stale' takes over a publisher silent for `staleAfter`; 'always'; 'never' (BadName). @default 'stale' */
  takeover?: 'stale' | 'always' | 'never'
  /** @default 5000 */
  staleAfter?: number
  /** Ping a peer silent for this long (ms). @default 10_000 */
  pingInterval?: number
  /** Close a pinged peer that has sent nothing within this (ms). @default 10_000 */
  pingTimeout?: number
  /** Close a connection that has not published or played within this, or a publisher that sends nothing for this long (ms). @default 30_000 */
  idleTimeout?: number
  /** The handshake and the HTTP-FLV request must arrive within this (ms). @default 10_000 */
  handshakeTimeout?: number
  /** Our Window Acknowledgement Size and the peer bandwidth we set. @default 2_500_000 */
  windowAckSize?: number
  /** Players handed a publisher's data per event-loop turn; the others follow once pending I/O (handshakes, other streams, the next read of the publisher) has run. @default 25 */
  playersPerTurn?: number
}

export type ResolvedOptions = Required<Omit<RtmpServerOptions, 'authorize'>> &
  Pick<RtmpServerOptions, 'authorize'>

export type RtmpServerEvents = {
  publish: [session: RtmpSession]
  unpublish: [session: RtmpSession]
  play: [session: RtmpSession]
  stop: [session: RtmpSession]
  /** A session ended on a protocol error or timeout (it is closed already). */
  sessionError: [error: WirekitError, session: RtmpSession]
}

export type RtmpStreamStats = {
  app: string
  name: string
  publisher: string | undefined
  players: number
  /** Incoming media, bits per second, over the last second. */
  bitrate: number
  fps: number
  bytesIn: number
  videoCodec: string | undefined
  audioCodec: string | undefined
  gopBytes: number
  /** Milliseconds since the publisher started. */
  uptime: number
}

export type RtmpStats = {
  sessions: number
  publishers: number
  players: number
  bytesIn: number
  bytesOut: number
  streams: RtmpStreamStats[]
}
