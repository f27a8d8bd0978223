// Public exports of the socket layer (wirekit/socket): AsyncSocket, AsyncServer, UdpSocket.
export {
  AsyncSocket,
  type AsyncSocketEvents,
  type ChunkConsumer,
  type SocketState,
  type WrapOptions,
} from './async-socket.ts'
export type { WriteFrameOptions } from './frames.ts'
export type {
  ConnectOptions,
  ReadOptions,
  ReadTimeoutHandler,
  SocketOptions,
  WriteOptions,
  WriteTimeoutHandler,
} from './options.ts'
export { AsyncServer, type AsyncServerEvents, type ListenOptions, type ServerAddress } from './server.ts'
export { pinOf, type TlsOptions, type TlsPeer } from './tls.ts'
export {
  type Datagram,
  MAX_DATAGRAM_IPV4,
  MAX_DATAGRAM_IPV6,
  type UdpBindOptions,
  type UdpReceiveOptions,
  type UdpSendOptions,
  UdpSocket,
} from './udp.ts'
