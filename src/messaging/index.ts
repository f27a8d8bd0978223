// Public exports of the messaging layer (wirekit/messaging).

export {
  type ClientState,
  MessageClient,
  type MessageClientOptions,
  type ReconnectOptions,
} from './client.ts'
export type {
  AdapterPeer,
  BroadcastMessage,
  BroadcastTarget,
  ClaimContext,
  LiveSession,
  MessagingAdapter,
  PeerInfo,
  SessionChange,
  SessionSnapshot,
  SessionStore,
  StoredMessage,
} from './cluster/adapter.ts'
// Durable rooms (issue 12): history stores, subscriptions.
export {
  type HistoryEntry,
  type HistoryGap,
  type HistoryLimits,
  type HistoryOptions,
  type HistoryPage,
  type HistoryPosition,
  type HistoryReadOptions,
  type HistoryStore,
  MemoryHistoryStore,
  RedisHistoryStore,
  SqliteHistoryStore,
} from './cluster/history/index.ts'
export { MemoryAdapter, MemorySessionStore } from './cluster/memory-adapter.ts'
export {
  type OutageLimits,
  RedisAdapter,
  type RedisAdapterOptions,
  type RedisAdapterStats,
  RedisSessionStore,
} from './cluster/redis/index.ts'
export { BroadcastOperator } from './cluster/rooms/broadcast-operator.ts'
export type { AuthorizeSubscribe, RoomHistoryEntry } from './cluster/rooms/room-subscriptions.ts'
export type { HeartbeatOptions } from './heartbeat.ts'
export { Peer, type RateLimit } from './peer.ts'
export {
  type AuthenticateInfo,
  type CloseOptions,
  MessageServer,
  type MessageServerOptions,
  type ServerLimits,
} from './server.ts'
export type { OutboxLimits, UnacknowledgedMessage } from './session/outbox.ts'
export type { RequestHandler, RequestOptions } from './session.ts'
export type { GapInfo, MessageMeta, SubscribeOptions, Subscription } from './subscription.ts'
export type { ClientTlsOptions, ListenAddress, ListenOptions } from './transport/stream.ts'
export type { PayloadCodecName } from './wire/payload-codec.ts'
