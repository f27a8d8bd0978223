// wirekit: async sockets, framing, exactly-once messaging and an HTTP session, for long-lived connections.
export * from './errors.ts'
export * from './framing/index.ts'
export * from './http/index.ts'
export * from './messaging/index.ts'
export * from './socket/index.ts'
