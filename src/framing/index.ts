// Public exports of the framing layer (wirekit/framing): the codec contract and the three codecs.
export type { FrameCodec, FrameDecoder } from './codec.ts'
export { type DelimitedOptions, delimited } from './delimited.ts'
export { fixedLength } from './fixed-length.ts'
export {
  type ByteOrder,
  type LengthFieldOptions,
  type LengthFieldWidth,
  lengthField,
} from './length-field.ts'
