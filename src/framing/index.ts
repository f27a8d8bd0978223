export type { FrameCodec, FrameDecoder } from './codec.ts'
