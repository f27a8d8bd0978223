// The replay/live seam of a recovering subscriber (RecoveryCursor fed by a real memory log): random
// interleavings of publish, live delivery (through `follows`, the server's fast path, or `live`),
// publications of another node announced late (hints), reads that complete late or fail, and
// re-subscribes that lose what was in flight. The delivered sequence must equal the published one, exactly once, in order;
// with a log smaller than the outage, gaps must name exactly the offsets that were not delivered.

import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  type HistoryPage,
  type HistoryPosition,
  type LiveEntry,
  MemoryHistoryStore,
  RecoveryCursor,
} from '../../src/messaging/cluster/history/index.ts'
import { assertDeliveredOrGapped } from './history-seam-check.ts'

type Op =
  | { kind: 'publish'; count: number }
  | { kind: 'live'; count: number }
  | { kind: 'read' }
  | { kind: 'page' }
  | { kind: 'fail' }
  | { kind: 'resubscribe' }
  | { kind: 'remote'; count: number }
  | { kind: 'notify' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 6 }) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('live' as const), count: fc.integer({ min: 1, max: 6 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'page' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'fail' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resubscribe' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('remote' as const), count: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'notify' as const }) },
)
const settingsArb = fc.record({
  maxBuffer: fc.integer({ min: 1, max: 5 }),
  pageSize: fc.integer({ min: 1, max: 4 }),
  fastPath: fc.boolean(),
})

type Outcome = { delivered: number[]; gaps: [number, number][]; published: number }

async function run(
  ops: Op[],
  settings: { maxBuffer: number; pageSize: number; fastPath: boolean },
  maxMessages: number,
): Promise<Outcome> {
  const store = new MemoryHistoryStore({ maxMessages })
  const room = 'room'
  const delivered: number[] = []
  const gaps: [number, number][] = []
  let published = 0
  // What the client knows: the position of the last message it got (resubscribes pass it as `since`).
  let last: HistoryPosition = { offset: 0, epoch: '' }
  let cursor = new RecoveryCursor(room, last, settings)
  let wire: LiveEntry[] = [] // live publications on their way to this subscription
  let pending: HistoryPage | undefined // a read made, its answer not yet handed over
  const notices: HistoryPosition[] = [] // another node's appends, announced to this node (late, in order)

  const take = (events: ReturnType<RecoveryCursor['page']>): void => {
    for (const event of events) {
      if (event.type === 'gap') {
        gaps.push([event.gap.from, event.gap.to])
        last = { offset: event.gap.to, epoch: event.gap.epoch }
      } else {
        delivered.push(event.entry.offset)
        last = { offset: event.entry.offset, epoch: event.epoch }
      }
    }
  }
  // What DurableRooms does with a live publication: the in-order fast path first, when it is in use.
  const live = (entry: LiveEntry): void => {
    if (settings.fastPath && cursor.follows(entry)) take([{ type: 'message', entry, epoch: entry.epoch }])
    else take(cursor.live(entry))
  }
  const read = async (): Promise<void> => {
    const options = cursor.nextRead()
    if (options !== undefined) pending = await store.read(room, options)
  }

  for (const op of ops) {
    if (op.kind === 'publish') {
      for (let i = 0; i < op.count; i++) {
        const data = Buffer.from(String(++published))
        const position = store.appendNow(room, 'm', data)
        wire.push({ offset: position.offset, epoch: position.epoch, name: 'm', data, time: 0 })
      }
    } else if (op.kind === 'remote') {
      for (let i = 0; i < op.count; i++)
        notices.push(store.appendNow(room, 'm', Buffer.from(String(++published))))
    } else if (op.kind === 'notify') {
      const notice = notices.shift()
      if (notice !== undefined) cursor.hint(notice)
    } else if (op.kind === 'live') {
      for (const entry of wire.splice(0, op.count)) live(entry)
    } else if (op.kind === 'read') {
      if (pending === undefined) await read()
    } else if (op.kind === 'page') {
      if (pending !== undefined) take(cursor.page(pending))
      pending = undefined
    } else if (op.kind === 'fail') {
      if (pending !== undefined) cursor.readFailed()
      pending = undefined
    } else {
      // The connection dropped: live entries in flight and the read under way are lost with it.
      cursor = new RecoveryCursor(room, last, settings)
      wire = []
      pending = undefined
    }
  }
  // Quiet network: everything in flight arrives, reads complete until the cursor has caught up.
  for (const entry of wire.splice(0)) live(entry)
  for (const notice of notices.splice(0)) cursor.hint(notice)
  if (pending !== undefined) take(cursor.page(pending))
  for (let guard = 0; guard < 10_000; guard++) {
    pending = undefined
    await read()
    if (pending === undefined) break
    take(cursor.page(pending))
  }
  assert.equal(cursor.recovering, false, 'the cursor settles once nothing is in flight')
  return { delivered, gaps, published }
}

test('a subscriber that reconnects at random gets every publication exactly once, in order, across the seam', async () => {
  await fc.assert(
    fc.asyncProperty(settingsArb, fc.array(opArb, { maxLength: 120 }), async (settings, ops) => {
      const { delivered, gaps, published } = await run(ops, settings, Number.POSITIVE_INFINITY)
      assert.deepEqual(gaps, [])
      assert.deepEqual(
        delivered,
        Array.from({ length: published }, (_, i) => i + 1),
      )
    }),
    { numRuns: Number(process.env.WIREKIT_FUZZ_RUNS ?? 0) || 1000 },
  )
})

test('with a log shorter than the outage, gaps name exactly the offsets not delivered, never a duplicate', async () => {
  await fc.assert(
    fc.asyncProperty(
      settingsArb,
      fc.integer({ min: 1, max: 6 }),
      fc.array(opArb, { maxLength: 120 }),
      async (settings, max, ops) => {
        const { delivered, gaps, published } = await run(ops, settings, max)
        assertDeliveredOrGapped(delivered, gaps, published)
        // The newest publications are always within the log: the tail is delivered.
        assert.equal(delivered.at(-1), published === 0 ? undefined : published)
      },
    ),
    { numRuns: Number(process.env.WIREKIT_FUZZ_RUNS ?? 0) || 1000 },
  )
})

test('a cursor whose position was taken before the room had a log takes the first entry live, without reading the log', () => {
  // A Redis head of an empty room is { offset: 0, epoch: '' }: every subscriber of a new room read the
  // log back at the first publication (20 reads of ~1,000 entries in a 20-subscriber burst).
  const cursor = new RecoveryCursor('room', { offset: 0, epoch: '' })
  const read = cursor.nextRead()
  assert.ok(read !== undefined)
  cursor.page({ entries: [], head: { offset: 0, epoch: '' }, first: 1 })
  const entry = (offset: number): LiveEntry => ({
    offset,
    epoch: 'e1',
    name: 'm',
    data: new Uint8Array(),
    time: 0,
  })
  assert.equal(cursor.follows(entry(1)), true)
  assert.equal(cursor.follows(entry(2)), true)
  assert.equal(cursor.wantsRead, false)
  assert.deepEqual(cursor.position, { offset: 2, epoch: 'e1' })
  // Anything else than the next offset still goes through the log.
  assert.equal(cursor.follows(entry(4)), false)
  assert.deepEqual(cursor.live(entry(4)), [])
  assert.equal(cursor.wantsRead, true)
})
