// The exactly-once delivery protocol, read from its core: envelopes go in as bytes, batches of framed
// envelopes come out, and time is a hand-turned clock. No sockets, no sleeps.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BackpressureError, ErrorCodes } from '../../src/errors.ts'
import type { Clock, Sweepable } from '../../src/messaging/session/clock.ts'
import { SessionCore, type SessionCoreOptions, type SessionHost } from '../../src/messaging/session/core.ts'
import type { RequestHandler } from '../../src/messaging/session/incoming-requests.ts'
import { eachFrame } from '../../src/messaging/transport/websocket-frames.ts'
import {
  decodeData,
  decodeEnvelope,
  encodeEnvelope,
  Format,
  Kind,
  type Message,
  type Outgoing,
} from '../../src/messaging/wire/envelope-bytes.ts'
import { nodePayloads } from '../../src/messaging/wire/payload-codec.ts'
import { webPayloads } from '../../src/messaging/wire/web-payloads.ts'

class ManualClock implements Clock {
  time = 1_000
  watched = new Set<Sweepable>()
  now(): number {
    return this.time
  }
  watch(target: Sweepable): void {
    this.watched.add(target)
  }
  unwatch(target: Sweepable): void {
    this.watched.delete(target)
  }
  advance(ms: number): void {
    this.time += ms
    for (const target of [...this.watched]) target.sweep(this.time)
  }
}

class Host implements SessionHost {
  events: [string, unknown][] = []
  controls: [number, unknown][] = []
  handlers = new Map<string, RequestHandler<unknown>>()
  scheduled = 0
  flushedNow = 0
  delays: number[] = []
  onEvent(name: string, data: unknown): void {
    this.events.push([name, data])
  }
  handlerFor(method: string): RequestHandler<unknown> | undefined {
    return this.handlers.get(method)
  }
  onControl(kind: number, payload: unknown): void {
    this.controls.push([kind, payload])
  }
  onOutboxFull(size: number): void {
    throw new BackpressureError(ErrorCodes.BACKPRESSURE, `Outbox full (adding ${size})`)
  }
  schedule(): void {
    this.scheduled++
  }
  flushNow(): void {
    this.flushedNow++
  }
  delayAck(ms: number): void {
    this.delays.push(ms)
  }
}

function session(options: Partial<SessionCoreOptions> = {}) {
  const host = new Host()
  const clock = new ManualClock()
  const core = new SessionCore(host, {
    payloads: webPayloads,
    clock,
    maxFrameLength: 64 * 1024,
    context: 'the-session',
    ...options,
  })
  return { core, host, clock }
}

/** A connected session: the handshake is done and the peer has received nothing yet. */
function connected(options: Partial<SessionCoreOptions> = {}) {
  const s = session(options)
  s.core.attach(0)
  return s
}

/** What the core writes now, envelope by envelope. */
function written(core: SessionCore): Message[] {
  const batch = core.flush(true)
  const out: Message[] = []
  if (batch !== undefined) eachFrame(batch, (frame) => out.push(decodeEnvelope(frame.slice())))
  return out
}

const bytes = (m: Outgoing) => encodeEnvelope(m)
const event = (seq: number, name: string, data?: unknown, ack?: number) =>
  bytes({ kind: Kind.EVENT, seq, name, data, ack })
const ack = (n: number) => bytes({ kind: Kind.ACK, ack: n, format: Format.EMPTY })

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise
  } catch (error) {
    return error as { code?: string; message: string }
  }
  assert.fail('expected a rejection')
}

describe('session core: sending', () => {
  test('an emitted event is written once with sequence number 1 and resolves on the peer’s ack', async () => {
    const { core } = connected()
    let acked = false
    const sent = core.sendEvent('chat', { text: 'hi' }).then(() => {
      acked = true
    })
    const [m] = written(core)
    assert.equal(m!.kind, Kind.EVENT)
    assert.equal(m!.seq, 1)
    assert.equal(m!.name, 'chat')
    assert.deepEqual(decodeData(m!), { text: 'hi' })
    assert.deepEqual(written(core), [], 'nothing is written twice on the same transport')
    await Promise.resolve()
    assert.equal(acked, false)
    core.receive(ack(1))
    await sent
    assert.equal(acked, true)
    assert.equal(core.outbox.count, 0)
  })

  test('sequence numbers count up across kinds: events, requests and responses share one sequence', () => {
    const { core, host } = connected()
    host.handlers.set('add', (data: number[]) => data[0]! + data[1]!)
    void core.sendEvent('a', 1)
    void core.sendRequest('remote', 2)
    core.receive(bytes({ kind: Kind.REQUEST, seq: 1, id: 7, name: 'add', data: [2, 3] }))
    const out = written(core)
    assert.deepEqual(
      out.map((m) => [m.kind, m.seq]),
      [
        [Kind.ACK, 0],
        [Kind.EVENT, 1],
        [Kind.REQUEST, 2],
        [Kind.RESPONSE, 3],
      ],
    )
    assert.equal(out[0]!.ack, 1, 'the ack for the request rides first in the same batch')
    assert.equal(out[3]!.id, 7)
    assert.equal(decodeData(out[3]!), 5)
  })

  test('a full outbox refuses the send with WK_BACKPRESSURE and queues nothing', async () => {
    const { core } = connected({ limits: { maxMessages: 2 } })
    void core.sendEvent('a', 1)
    void core.sendEvent('a', 2)
    const error = await rejection(core.sendEvent('a', 3))
    assert.equal(error.code, ErrorCodes.BACKPRESSURE)
    assert.equal(core.outbox.count, 2)
    assert.equal(core.nextSeq, 3)
  })

  test('a message over maxFrameLength throws WK_INVALID_ARGUMENT at once', () => {
    const { core } = connected({ maxFrameLength: 64 })
    assert.throws(() => core.sendEvent('a', 'x'.repeat(100)), { code: ErrorCodes.INVALID_ARGUMENT })
  })

  test('volatile events are written only while connected and never resent', () => {
    const { core } = session()
    assert.equal(core.sendVolatile('typing', true), false)
    core.attach(0)
    assert.equal(core.sendVolatile('typing', true), true)
    const [m] = written(core)
    assert.equal(m!.kind, Kind.VOLATILE)
    assert.equal(m!.seq, 0)
    core.detach()
    core.attach(0)
    assert.deepEqual(written(core), [])
  })

  test('a long burst asks the owner to write at once instead of at the end of the turn', () => {
    const { core, host } = connected()
    for (let i = 0; i < 200 && host.flushedNow === 0; i++) void core.sendEvent('bulk', 'x'.repeat(1000))
    assert.equal(host.flushedNow, 1)
  })
})

describe('session core: receiving', () => {
  test('events are delivered once and in order; a resent copy is dropped', () => {
    const { core, host } = connected()
    core.receive(event(1, 'chat', 'one'))
    core.receive(event(2, 'chat', 'two'))
    core.receive(event(1, 'chat', 'one'))
    core.receive(event(2, 'chat', 'two'))
    core.receive(event(3, 'chat', 'three'))
    assert.deepEqual(
      host.events.map(([, data]) => data),
      ['one', 'two', 'three'],
    )
    assert.equal(core.lastReceived, 3)
  })

  test('the cumulative ack goes out with the next flush, once', () => {
    const { core } = connected()
    core.receive(event(1, 'e'))
    core.receive(event(2, 'e'))
    const [m] = written(core)
    assert.equal(m!.kind, Kind.ACK)
    assert.equal(m!.ack, 2)
    assert.deepEqual(written(core), [])
  })

  test('a gap in sequence numbers is a protocol error (WK_PROTOCOL)', () => {
    const { core } = connected()
    core.receive(event(1, 'e'))
    assert.throws(() => core.receive(event(3, 'e')), {
      code: ErrorCodes.PROTOCOL,
      message: /sequence 3 after 1/,
    })
  })

  test('an ack of a message never sent is a protocol error', () => {
    const { core } = connected()
    void core.sendEvent('e', 1)
    assert.throws(() => core.receive(ack(2)), {
      code: ErrorCodes.PROTOCOL,
      message: /ack 2 of a message never sent/,
    })
  })

  test('an ack riding on an event settles the sends it covers', async () => {
    const { core } = connected()
    const sent = core.sendEvent('e', 1)
    written(core)
    core.receive(event(1, 'reply', 'r', 1))
    await sent
    assert.equal(core.outbox.count, 0)
  })

  test('only the handshake may come before it: HELLO, WELCOME and GOAWAY reach the owner, the rest is refused', () => {
    const { core, host } = session()
    core.receive(bytes({ kind: Kind.WELCOME, data: { v: 1 } }))
    assert.deepEqual(host.controls, [[Kind.WELCOME, { v: 1 }]])
    assert.throws(() => core.receive(event(1, 'e')), {
      code: ErrorCodes.PROTOCOL,
      message: /before the handshake/,
    })
  })

  test('hostile envelopes are answered with typed errors, never delivered', () => {
    const cases: [string, Uint8Array][] = [
      ['too short', Uint8Array.of(Kind.EVENT)],
      ['unknown kind', Uint8Array.of(99, Format.EMPTY)],
      ['unknown flags', Uint8Array.of(Kind.EVENT, 0xc0)],
      ['truncated sequence', Uint8Array.of(Kind.EVENT, 0b0100, 1, 0)],
      ['sequence on an ACK', bytes({ kind: Kind.ACK, seq: 1, format: Format.EMPTY })],
      ['event without a name', bytes({ kind: Kind.EVENT, seq: 1, data: 1 })],
      [
        'bad JSON',
        bytes({ kind: Kind.EVENT, seq: 1, name: 'e', format: Format.JSON, body: Uint8Array.of(0x7b) }),
      ],
      [
        'bytes after an empty payload',
        bytes({ kind: Kind.EVENT, seq: 1, name: 'e', format: Format.EMPTY, body: Uint8Array.of(1) }),
      ],
      ['a HELLO after the handshake', bytes({ kind: Kind.HELLO, data: {} })],
    ]
    for (const [what, frame] of cases) {
      // Each on a fresh session: the owner closes the transport on the first error.
      const { core, host } = connected()
      assert.throws(
        () => core.receive(frame),
        (error: { code?: string }) => error.code === ErrorCodes.PROTOCOL,
        what,
      )
      assert.deepEqual(host.events, [], what)
    }
  })

  test('MessagePack is refused by a core that does not accept it', () => {
    const { core } = connected({ payloads: nodePayloads('json'), acceptsMsgpack: false })
    const frame = bytes({
      kind: Kind.EVENT,
      seq: 1,
      name: 'e',
      format: Format.MSGPACK,
      body: Uint8Array.of(1),
    })
    assert.throws(() => core.receive(frame), { code: ErrorCodes.PROTOCOL, message: /MessagePack/ })
  })

  test('a PING is answered with a PONG', () => {
    const { core } = connected()
    core.receive(bytes({ kind: Kind.PING, format: Format.EMPTY }))
    assert.deepEqual(
      written(core).map((m) => m.kind),
      [Kind.PONG],
    )
  })
})

describe('session core: requests', () => {
  test('a request resolves with the RESPONSE carrying its id', async () => {
    const { core } = connected()
    const reply = core.sendRequest('echo', { hi: 1 })
    const [m] = written(core)
    assert.equal(m!.kind, Kind.REQUEST)
    core.receive(bytes({ kind: Kind.RESPONSE, seq: 1, ack: 1, id: m!.id, data: { hi: 1 } }))
    assert.deepEqual(await reply, { hi: 1 })
  })

  test('an ERROR response rejects with WK_REMOTE_ERROR and the remote message', async () => {
    const { core } = connected()
    const reply = core.sendRequest('boom', null)
    const [m] = written(core)
    core.receive(
      bytes({ kind: Kind.ERROR, seq: 1, id: m!.id, data: { code: 'E_APP', message: 'bad', remote: true } }),
    )
    const error = (await rejection(reply)) as { code?: string; remoteMessage?: string; remoteCode?: string }
    assert.equal(error.code, ErrorCodes.REMOTE_ERROR)
    assert.equal(error.remoteMessage, 'bad')
    assert.equal(error.remoteCode, 'E_APP')
  })

  test('a request times out by the clock with WK_REQUEST_TIMEOUT', async () => {
    const { core, clock } = connected()
    const reply = core.sendRequest('slow', null, { timeout: 500 })
    clock.advance(499)
    clock.advance(1)
    assert.equal((await rejection(reply)).code, ErrorCodes.REQUEST_TIMEOUT)
    assert.equal(clock.watched.size, 0, 'nothing is watched once no request waits')
  })

  test('a request for a method without a handler is answered with WK_NO_HANDLER', () => {
    const { core } = connected()
    core.receive(bytes({ kind: Kind.REQUEST, seq: 1, id: 3, name: 'nope', data: 1 }))
    const reply = written(core).find((m) => m.kind === Kind.ERROR)!
    assert.equal(reply.id, 3)
    assert.deepEqual(decodeData(reply), {
      code: ErrorCodes.NO_HANDLER,
      message: 'no handler for "nope"',
      remote: false,
    })
  })

  test('a thrown error reaches the caller with its code and message', () => {
    const { core, host } = connected()
    host.handlers.set('fail', () => {
      throw Object.assign(new Error('no way'), { code: 'E_NOPE' })
    })
    core.receive(bytes({ kind: Kind.REQUEST, seq: 1, id: 1, name: 'fail', data: 1 }))
    const reply = written(core).find((m) => m.kind === Kind.ERROR)!
    assert.deepEqual(decodeData(reply), { code: 'E_NOPE', message: 'no way', remote: true })
  })

  test('a request reusing the id of one still being handled is a protocol error', () => {
    const { core, host } = connected()
    host.handlers.set('wait', () => new Promise(() => {}))
    core.receive(bytes({ kind: Kind.REQUEST, seq: 1, id: 9, name: 'wait', data: 1 }))
    assert.equal(core.handling, 1)
    assert.throws(() => core.receive(bytes({ kind: Kind.REQUEST, seq: 2, id: 9, name: 'wait', data: 1 })), {
      code: ErrorCodes.PROTOCOL,
      message: /request id 9 is still being handled/,
    })
  })

  test('requests beyond maxHandling are refused with WK_BACKPRESSURE without running', () => {
    const { core, host } = connected({ maxHandling: 1 })
    let runs = 0
    host.handlers.set('wait', () => {
      runs++
      return new Promise(() => {})
    })
    core.receive(bytes({ kind: Kind.REQUEST, seq: 1, id: 1, name: 'wait', data: 1 }))
    core.receive(bytes({ kind: Kind.REQUEST, seq: 2, id: 2, name: 'wait', data: 1 }))
    assert.equal(runs, 1)
    const refusal = written(core).find((m) => m.kind === Kind.ERROR)!
    assert.equal(refusal.id, 2)
    assert.equal((decodeData(refusal) as { code: string }).code, ErrorCodes.BACKPRESSURE)
  })
})

describe('session core: reconnects', () => {
  test('after a reconnect, what the peer has is dropped and the rest is written again, in order', async () => {
    const { core } = connected()
    const sends = [1, 2, 3, 4].map((n) => core.sendEvent('e', n))
    assert.equal(written(core).length, 4)
    core.receive(ack(1))
    core.detach()
    // The transport is gone; the peer says it has 1 and 2.
    core.attach(2)
    await sends[1]
    const again = written(core)
    assert.deepEqual(
      again.map((m) => [m.seq, decodeData(m)]),
      [
        [3, 3],
        [4, 4],
      ],
    )
  })

  test('the peer claiming a position beyond what was sent is a protocol error', () => {
    const { core } = connected()
    void core.sendEvent('e', 1)
    core.detach()
    assert.throws(() => core.attach(5), { code: ErrorCodes.PROTOCOL, message: /acknowledges 5, never sent/ })
  })

  test('both directions resume: resent frames the core already delivered are dropped after a reconnect', () => {
    const { core, host } = connected()
    core.receive(event(1, 'e', 'a'))
    core.receive(event(2, 'e', 'b'))
    core.detach()
    core.attach(0)
    // The peer had no ack for 1 and 2, so it resends them, then goes on.
    core.receive(event(1, 'e', 'a'))
    core.receive(event(2, 'e', 'b'))
    core.receive(event(3, 'e', 'c'))
    assert.deepEqual(
      host.events.map(([, d]) => d),
      ['a', 'b', 'c'],
    )
  })

  test('messages written behind a resuming HELLO are not written again when the session resumes', () => {
    const { core } = connected()
    void core.sendEvent('e', 1)
    void core.sendEvent('e', 2)
    core.detach()
    const hello = Uint8Array.of(0, 0, 0, 2, Kind.HELLO, Format.EMPTY)
    const early: number[] = []
    eachFrame(core.writeEarly(hello), (frame) => early.push(frame[0]!))
    assert.deepEqual(early, [Kind.HELLO, Kind.EVENT, Kind.EVENT])
    core.attach(0)
    assert.deepEqual(written(core), [])
  })

  test('a lost session rejects what the peer may have seen (WK_SESSION_LOST) and renumbers the rest from 1', async () => {
    const { core } = connected()
    const seen = core.sendEvent('e', 'seen')
    written(core)
    core.detach()
    const waiting = core.sendEvent('e', 'never written')
    const reply = core.sendRequest('later', null)
    let lostNames: string[] = []
    const reason = core.lose((lost) => {
      lostNames = lost.map((e) => e.name)
      return Object.assign(new Error('lost'), { code: ErrorCodes.SESSION_LOST })
    })
    assert.deepEqual(lostNames, ['e'])
    assert.equal((await rejection(seen)).code, ErrorCodes.SESSION_LOST)
    assert.equal(reason.message, 'lost')
    assert.equal(core.nextSeq, 3)
    assert.equal(core.lastReceived, 0)
    core.attach(0)
    const out = written(core)
    assert.deepEqual(
      out.map((m) => [m.kind, m.seq]),
      [
        [Kind.EVENT, 1],
        [Kind.REQUEST, 2],
      ],
    )
    core.receive(bytes({ kind: Kind.RESPONSE, seq: 1, ack: 2, id: out[1]!.id, data: 'ok' }))
    await waiting
    assert.equal(await reply, 'ok', 'the carried-over request still gets its response')
  })

  test('a lost session after an early write counts only what earlier transports carried', async () => {
    const { core } = connected()
    const first = core.sendEvent('e', 1)
    written(core)
    core.detach()
    const second = core.sendEvent('e', 2)
    core.writeEarly(Uint8Array.of(0, 0, 0, 2, Kind.HELLO, Format.EMPTY))
    core.lose(() => Object.assign(new Error('lost'), { code: ErrorCodes.SESSION_LOST }))
    assert.equal((await rejection(first)).code, ErrorCodes.SESSION_LOST)
    core.attach(0)
    const [m] = written(core)
    assert.deepEqual([m!.seq, decodeData(m!)], [1, 2], 'the early copy was dropped unread: it goes out again')
    core.receive(ack(1))
    await second
  })

  test('a restored session continues its numbering and resends what was stored', () => {
    const { core: before } = connected()
    void before.sendEvent('e', 'kept')
    written(before)
    const { core } = session()
    core.restore({
      nextSeq: before.nextSeq,
      lastReceived: 4,
      sentUpTo: 1,
      entries: [...before.outbox].map(({ settle: _, ...stored }) => stored),
    })
    core.attach(0)
    void core.sendEvent('e', 'new')
    const out = written(core)
    assert.deepEqual(
      out.map((m) => [m.seq, decodeData(m)]),
      [
        [1, 'kept'],
        [2, 'new'],
      ],
    )
    assert.throws(() => core.receive(event(6, 'e')), { message: /sequence 6 after 4/ })
  })

  test('ending the session rejects every unacknowledged send and pending request', async () => {
    const { core } = connected()
    const sent = core.sendEvent('e', 1)
    const reply = core.sendRequest('r', 1)
    core.end(() => Object.assign(new Error('closed'), { code: ErrorCodes.CLOSED }))
    assert.equal((await rejection(sent)).code, ErrorCodes.CLOSED)
    assert.equal((await rejection(reply)).code, ErrorCodes.CLOSED)
    assert.equal(core.outbox.count, 0)
  })
})

describe('session core: acks and heartbeats', () => {
  test('512 unacknowledged messages are acknowledged at once', () => {
    const { core, host } = connected()
    for (let seq = 1; seq <= 511; seq++) core.receive(event(seq, 'e'))
    core.received()
    assert.equal(host.flushedNow, 0)
    core.receive(event(512, 'e'))
    core.received()
    assert.equal(host.flushedNow, 1)
  })

  test('with ackDelay a lone message’s ack waits for the timer, once', () => {
    const { core, host } = connected({ ackDelay: 20 })
    core.flush(true)
    const scheduled = host.scheduled
    core.receive(event(1, 'e'))
    core.received()
    core.receive(event(2, 'e'))
    core.received()
    assert.deepEqual(host.delays, [20])
    assert.equal(host.scheduled, scheduled)
    core.ackTimerFired()
    assert.equal(host.scheduled, scheduled + 1)
    assert.equal(written(core)[0]!.ack, 2)
  })

  test('a silent line is reported dead after interval + timeout; an idle one is pinged', () => {
    const { core } = connected({ pings: true })
    core.heartbeat = { interval: 100, timeout: 50 }
    core.flush(true)
    assert.equal(core.checkLife(1_000, 1_000, 1_000), -1)
    assert.deepEqual(written(core), [])
    assert.equal(core.checkLife(1_100, 1_000, 1_000), -1)
    assert.deepEqual(
      written(core).map((m) => m.kind),
      [Kind.PING],
    )
    assert.equal(core.checkLife(1_150, 1_000, 1_100), 150)
  })
})
