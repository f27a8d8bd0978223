// Public exports of the RTMP layer (@wirekit/core/rtmp): server, client, and the protocol pieces.

export { splitAggregate } from './aggregate.ts'
export {
  AmfEcmaArray,
  type AmfEncodable,
  type AmfObject,
  type AmfValue,
  decodeAmf0,
  encodeAmf0,
} from './amf0.ts'
export { ChunkReader, type ChunkReaderOptions } from './chunk-reader.ts'
export { ChunkStream } from './chunk-stream.ts'
export { encodeChunks } from './chunk-writer.ts'
export {
  type PushOptions,
  type PushProgress,
  RtmpClient,
  type RtmpClientOptions,
  RtmpPlayer,
  RtmpPublisher,
} from './client.ts'
export { encodeFlvTag, FlvReader, type FlvReaderOptions, type FlvTag, flvHeader } from './flv.ts'
export { answerHandshake, clientAck, clientHello } from './handshake.ts'
export { audioCodec, isKeyframe, isSequenceHeader, videoCodec } from './media.ts'
export { MessageType, type RtmpMessage, UserControl } from './message.ts'
export { RtmpServer } from './server.ts'
export type {
  AuthorizeRequest,
  RtmpAction,
  RtmpServerEvents,
  RtmpServerOptions,
  RtmpSession,
  RtmpStats,
  RtmpStreamStats,
} from './server-types.ts'
export { parseRtmpUrl, type RtmpUrl } from './url.ts'
