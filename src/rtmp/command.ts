// RTMP commands (AMF0 command messages) and the NetStream status events: encoding, decoding, and
// the replies a server gives. A command is a name, a transaction id, a command object, then arguments.
import { ErrorCodes, ProtocolError } from '../errors.ts'
import { type AmfEncodable, type AmfObject, type AmfValue, decodeAmf0, encodeAmf0 } from './amf0.ts'
import { MessageType, type RtmpMessage } from './message.ts'

export type Command = {
  name: string
  transactionId: number
  /** The command object (null for most stream commands). */
  object: AmfValue
  args: AmfValue[]
}

/** Decodes an AMF0 command payload. Throws ProtocolError (WK_RTMP_AMF, WK_RTMP_COMMAND). */
export function decodeCommand(payload: Buffer): Command {
  const values = decodeAmf0(payload)
  const [name, transactionId, object, ...args] = values
  if (typeof name !== 'string')
    throw new ProtocolError(ErrorCodes.RTMP_COMMAND, 'a command must start with its name')
  return {
    name,
    transactionId: typeof transactionId === 'number' ? transactionId : 0,
    object: object ?? null,
    args,
  }
}

export function command(
  name: string,
  transactionId: number,
  object: AmfEncodable,
  args: AmfEncodable[] = [],
  streamId = 0,
): RtmpMessage {
  return {
    type: MessageType.COMMAND_AMF0,
    streamId,
    timestamp: 0,
    payload: encodeAmf0(name, transactionId, object, ...args),
  }
}

/** A NetStream/NetConnection status event, as onStatus on `streamId`. */
export function onStatus(
  streamId: number,
  level: 'status' | 'error' | 'warning',
  code: string,
  description: string,
): RtmpMessage {
  return command('onStatus', 0, null, [{ level, code, description }], streamId)
}

/** The info object of a status reply (onStatus's argument or a _result/_error's), if there is one. */
export function statusOf(cmd: Command): { level?: string; code?: string; description?: string } {
  const info = cmd.args.find((a) => a !== null && typeof a === 'object' && !Array.isArray(a)) as
    | AmfObject
    | undefined
  const from =
    info ?? (cmd.object !== null && typeof cmd.object === 'object' ? (cmd.object as AmfObject) : undefined)
  if (from === undefined) return {}
  const text = (v: AmfValue): string | undefined => (typeof v === 'string' ? v : undefined)
  return { level: text(from.level), code: text(from.code), description: text(from.description) }
}

/** A data message (AMF0), such as onMetaData or |RtmpSampleAccess. */
export function dataMessage(streamId: number, timestamp: number, ...values: AmfEncodable[]): RtmpMessage {
  return { type: MessageType.DATA_AMF0, streamId, timestamp, payload: encodeAmf0(...values) }
}
