// wirekit: async sockets, framing, exactly-once messaging and an HTTP session, for long-lived connections.
export {
  AbortError,
  BackpressureError,
  ClosedError,
  ConnectError,
  type ErrorCode,
  ErrorCodes,
  type ErrorContext,
  HttpError,
  InvalidArgumentError,
  isWirekitError,
  MessagingError,
  ProtocolError,
  RtmpError,
  TimeoutError,
  TlsError,
  WirekitError,
} from './errors.ts'
export * from './framing/index.ts'
export * from './http/index.ts'
// Both layers name their listen options; at the top level the socket layer's keeps the plain name.
export type { ListenOptions as MessageListenOptions } from './messaging/index.ts'
export * from './messaging/index.ts'
export { FaultProxy, type FaultProxyOptions, type FaultProxyStats, type Faults } from './proxy/index.ts'
export { RtmpClient, RtmpServer } from './rtmp/index.ts'
export type { ListenOptions } from './socket/index.ts'
export * from './socket/index.ts'
export { type MetricsOptions, metricsFor, type ServerMetrics, type ServerStats } from './web/index.ts'
