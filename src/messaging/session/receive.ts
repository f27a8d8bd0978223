// What a session core does with an envelope from its peer: acks drop acknowledged messages from the
// outbox; sequenced messages are delivered once, in order (a resend of one already delivered is dropped,
// a gap is a protocol error); then, per chunk, when the ack for them goes out.
//
//   frame ─► decode ─► ack? outbox.ack ─► seq ≤ last: drop │ seq = last+1: deliver │ else: WK_PROTOCOL
//   end of chunk ─► ≥ ACK_EVERY unacked: write now │ else end of turn │ lone message: delayed (ackDelay)

import { ErrorCodes, ProtocolError } from '../../errors.ts'
import { decodeEnvelope, newEnvelope, requireName } from '../wire/envelope-frame.ts'
import { Flag, Format, Kind } from '../wire/kinds.ts'
import { refusedFormat } from '../wire/payloads.ts'
import { PONG_FRAME } from './batch.ts'
import type { SessionCore } from './core.ts'
import { runRequest } from './incoming-requests.ts'
import { remoteError } from './pending-requests.ts'

/** Messages received without an ack before one is written at once, at the end of the chunk. */
const ACK_EVERY = 512
/**
 * A delayed ack (see `ackDelay`) only covers a few small messages: beyond these the ack goes out at
 * the end of the turn, so a server's per-peer buffer (peerBuffer) does not fill up with messages a
 * healthy client has long received.
 */
const DELAYED_ACK_MESSAGES = 16
const DELAYED_ACK_BYTES = 64 * 1024

// One reused decode record for every core: frames are handled one at a time.
const envelope = newEnvelope()

/**
 * One envelope from the peer (a view valid for this call only). Throws ProtocolError on anything the
 * protocol forbids; the owner then closes the transport with that error. Before the handshake (or
 * with `handshakeOnly`, a transport already replaced) only HELLO, WELCOME and GOAWAY are accepted.
 */
export function receiveEnvelope(core: SessionCore, frame: Uint8Array, handshakeOnly: boolean): void {
  const env = decodeEnvelope(frame, envelope)
  const kind = env.kind
  if (!core.established || handshakeOnly) {
    if (kind === Kind.HELLO || kind === Kind.WELCOME || kind === Kind.GOAWAY) {
      core.host.onControl(kind, core.profile.payloads.decode(frame, env.payloadStart, env.format))
      return
    }
    throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: kind ${kind} before the handshake completed`)
  }
  if (env.flags & Flag.ACK) onAck(core, env.ack)
  if (env.flags & Flag.SEQ) {
    if (kind !== Kind.EVENT && kind !== Kind.REQUEST && kind !== Kind.RESPONSE && kind !== Kind.ERROR) {
      throw new ProtocolError(
        ErrorCodes.PROTOCOL,
        `Bad envelope: kind ${kind} cannot carry a sequence number`,
      )
    }
    const seq = env.seq
    // A resend of something already delivered: drop it, the peer learns our position from the next ack.
    if (seq <= core.lastReceived) return
    if (seq !== core.lastReceived + 1) {
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: sequence ${seq} after ${core.lastReceived}`)
    }
    if (env.format === Format.MSGPACK && !core.profile.acceptsMsgpack) throw refusedFormat(env.format)
    core.lastReceived = seq
    core.bytesSinceAck += frame.length
    // A raw event the owner reads in place (room messages): no copy, no second decode.
    if (
      kind === Kind.EVENT &&
      env.format === Format.RAW &&
      core.host.onRawEvent?.(env.name, frame, env.payloadStart)
    )
      return
    const data = core.profile.payloads.decode(frame, env.payloadStart, env.format)
    if (kind === Kind.EVENT) core.host.onEvent(requireName(env.name), data)
    else if (kind === Kind.REQUEST) runRequest(core, env.id, requireName(env.name), data)
    else if (kind === Kind.RESPONSE) core.pending?.settle(env.id, undefined, data)
    else core.pending?.settle(env.id, remoteError(core.pending.methodOf(env.id), data), undefined)
    return
  }
  switch (kind) {
    case Kind.VOLATILE:
      if (env.format === Format.MSGPACK && !core.profile.acceptsMsgpack) throw refusedFormat(env.format)
      core.host.onEvent(
        requireName(env.name),
        core.profile.payloads.decode(frame, env.payloadStart, env.format),
      )
      return
    case Kind.ACK:
    case Kind.PONG:
      return
    case Kind.PING:
      core.queueControl(PONG_FRAME)
      return
    case Kind.GOAWAY:
    case Kind.BYE:
      core.host.onControl(kind, core.profile.payloads.decode(frame, env.payloadStart, env.format))
      return
    default:
      throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: unexpected kind ${kind}`)
  }
}

/**
 * All envelopes that arrived together (one TCP chunk, one WebSocket message) were received: decide
 * when the ack goes out. A long stream is acknowledged as it is read, so the sender's window keeps
 * moving; otherwise the ack waits for the end of the turn and rides with whatever else is written,
 * or (ackDelay) a little longer when it is alone.
 */
export function decideAck(core: SessionCore): void {
  const unacked = core.lastReceived - core.ackSent
  if (unacked === 0) return
  if (unacked >= ACK_EVERY) core.host.flushNow()
  else if (core.queued) return
  else if (
    core.profile.ackDelay > 0 &&
    unacked < DELAYED_ACK_MESSAGES &&
    core.bytesSinceAck < DELAYED_ACK_BYTES
  ) {
    if (core.ackDelayed) return
    core.ackDelayed = true
    core.host.delayAck(core.profile.ackDelay)
  } else core.schedule()
}

function onAck(core: SessionCore, ack: number): void {
  if (ack >= core.nextSeq) {
    throw new ProtocolError(ErrorCodes.PROTOCOL, `Bad envelope: ack ${ack} of a message never sent`)
  }
  core.outbox.ack(ack)
}
