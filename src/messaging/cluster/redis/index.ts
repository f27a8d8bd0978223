// The Redis adapter: rooms, broadcast, presence and resumable sessions across server processes.
export type { PeerInfo } from './presence.ts'
export type { OutageLimits } from './publisher.ts'
export { RedisAdapter, type RedisAdapterOptions, type RedisAdapterStats } from './redis-adapter.ts'
export { RedisSessionStore } from './session-store.ts'
