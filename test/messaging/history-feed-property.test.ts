// Property test of the server's fan-out around the replay/live seam: real DurableRooms on a memory log
// (publish = append then live delivery through RecoveryCursor.follows / live, replays read by the
// feed's own pump), a wire between feed and client that delivers late, and disconnects that lose
// what is on the wire and re-subscribe from the client's last position, at random. The client must
// get every publication exactly once, in order, with no help from a duplicate filter.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  type CursorEvent,
  DurableRooms,
  type HistoryEntry,
  type HistoryPosition,
  type RoomFeed,
} from '../../src/messaging/cluster/history/index.ts'
import { assertDeliveredOrGapped } from './history-seam-check.ts'

type Op =
  | { kind: 'publish'; count: number }
  | { kind: 'arrive'; count: number }
  | { kind: 'disconnect' }
  | { kind: 'turn' }

/** An op that carries a count of 1..max. */
const counted = <K extends 'publish' | 'arrive'>(kind: K, max: number) =>
  fc.integer({ min: 1, max }).map((count) => ({ kind, count }))
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: counted('publish', 5) },
  { weight: 4, arbitrary: counted('arrive', 8) },
  { weight: 1, arbitrary: fc.constant({ kind: 'disconnect' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'turn' as const }) },
)

/** Lets the feeds' pumps (an awaited read each) run. */
const turn = () => new Promise((resolve) => setImmediate(resolve))

async function run(ops: Op[], fastPath: boolean, maxMessages: number) {
  const durable = new DurableRooms({ store: 'memory', maxMessages })
  const room = 'room'
  const delivered: number[] = []
  const gaps: [number, number][] = []
  let published = 0
  let wire: (() => void)[] = [] // what the feed sent, not yet received by the client
  let position: HistoryPosition = { offset: 0, epoch: '' }
  const message = (entry: HistoryEntry, epoch: string) => () => {
    delivered.push(entry.offset)
    position = { offset: entry.offset, epoch }
  }
  const event = (e: CursorEvent) => {
    if (e.type === 'message') wire.push(message(e.entry, e.epoch))
    else
      wire.push(() => {
        gaps.push([e.gap.from, e.gap.to])
        position = { offset: e.gap.to, epoch: e.gap.epoch }
      })
  }
  const subscribe = (): RoomFeed =>
    durable.subscribe(
      room,
      position,
      // The server's receiver takes in-order live entries as they are (RecoveryCursor.follows).
      fastPath ? { event, entry: (entry, epoch) => wire.push(message(entry, epoch)) } : event,
    )
  let feed = subscribe()
  try {
    for (const op of ops) {
      if (op.kind === 'publish') {
        for (let i = 0; i < op.count; i++) {
          published++
          await durable.publish(room, 'm', Buffer.from(String(published)))
        }
      } else if (op.kind === 'arrive') {
        for (const receive of wire.splice(0, op.count)) receive()
      } else if (op.kind === 'disconnect') {
        feed.close()
        wire = []
        feed = subscribe()
      } else await turn()
    }
    // Quiet network: the feed catches up, everything on the wire arrives.
    for (let guard = 0; guard < 1000 && (wire.length > 0 || position.offset < published); guard++) {
      await turn()
      for (const receive of wire.splice(0)) receive()
    }
    return { delivered, gaps, published }
  } finally {
    feed.close()
    await durable.close()
  }
}

const runs = Number(process.env.WIREKIT_FUZZ_RUNS ?? 0) || 300

test('through DurableRooms, a client that disconnects and re-subscribes at random gets every publication once, in order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(opArb, { maxLength: 100 }), async (fastPath, ops) => {
      const { delivered, gaps, published } = await run(ops, fastPath, Number.POSITIVE_INFINITY)
      assert.deepEqual(gaps, [])
      assert.deepEqual(
        delivered,
        Array.from({ length: published }, (_, i) => i + 1),
      )
    }),
    { numRuns: runs },
  )
})

test('through DurableRooms with a log shorter than the outage, each offset is delivered once or inside one gap, in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.integer({ min: 1, max: 6 }),
      fc.array(opArb, { maxLength: 100 }),
      async (fastPath, max, ops) => {
        const { delivered, gaps, published } = await run(ops, fastPath, max)
        assertDeliveredOrGapped(delivered, gaps, published)
      },
    ),
    { numRuns: runs },
  )
})
