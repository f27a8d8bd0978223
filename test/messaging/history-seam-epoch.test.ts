// The replay/live seam across restarts of the log (each a new epoch, everything before it lost): random
// interleavings of publish, live delivery (fast path or not), reads answered late (possibly by the log
// before a restart), restarts and re-subscribes. Every publication must be delivered once, in order, or
// be covered by a gap: a 'trimmed' range of its epoch, or an 'epoch' gap after the position it names
// (which also covers incarnations that came and went in between).

import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  type HistoryGap,
  type HistoryPage,
  type HistoryPosition,
  type LiveEntry,
  MemoryHistoryStore,
  RecoveryCursor,
} from '../../src/messaging/cluster/history/index.ts'

type Op = { kind: 'publish' | 'live'; count: number } | { kind: 'read' | 'page' | 'restart' | 'resubscribe' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 5 }).map((count) => ({ kind: 'publish' as const, count })),
  },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }).map((count) => ({ kind: 'live' as const, count })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'page' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'resubscribe' as const }) },
)

async function run(ops: Op[], fastPath: boolean, maxMessages: number, startEmpty: boolean) {
  const room = 'room'
  let store = new MemoryHistoryStore({ maxMessages })
  const epochs = [store.epoch]
  const published: HistoryPosition[] = []
  const delivered: HistoryPosition[] = []
  const gaps: HistoryGap[] = []
  // Subscribed before the room had a log (a Redis head of an empty room), or at a memory log's head.
  let last: HistoryPosition = { offset: 0, epoch: startEmpty ? '' : store.epoch }
  let cursor = new RecoveryCursor(room, last, { maxBuffer: 3, pageSize: 3 })
  let wire: LiveEntry[] = []
  let pending: HistoryPage | undefined
  const take = (events: ReturnType<RecoveryCursor['page']>): void => {
    for (const event of events) {
      if (event.type === 'gap') {
        gaps.push(event.gap)
        last = { offset: event.gap.to, epoch: event.gap.epoch }
      } else {
        delivered.push({ offset: event.entry.offset, epoch: event.epoch })
        last = { offset: event.entry.offset, epoch: event.epoch }
      }
    }
  }
  const live = (entry: LiveEntry): void => {
    if (fastPath && cursor.follows(entry)) take([{ type: 'message', entry, epoch: entry.epoch }])
    else take(cursor.live(entry))
  }
  const read = async (): Promise<void> => {
    const options = cursor.nextRead()
    if (options !== undefined) pending = await store.read(room, options)
  }
  for (const op of ops) {
    if (op.kind === 'publish') {
      for (let i = 0; i < op.count; i++) {
        const data = Buffer.from('x')
        const position = store.appendNow(room, 'm', data)
        published.push(position)
        wire.push({ ...position, name: 'm', data, time: 0 })
      }
    } else if (op.kind === 'live') for (const entry of wire.splice(0, op.count)) live(entry)
    else if (op.kind === 'read') {
      if (pending === undefined) await read()
    } else if (op.kind === 'page') {
      if (pending !== undefined) take(cursor.page(pending))
      pending = undefined
    } else if (op.kind === 'restart') {
      // The log is lost: a new incarnation. What was on the wire or being read still arrives.
      await store.close()
      store = new MemoryHistoryStore({ maxMessages })
      epochs.push(store.epoch)
    } else {
      cursor = new RecoveryCursor(room, last, { maxBuffer: 3, pageSize: 3 })
      wire = []
      pending = undefined
    }
  }
  for (const entry of wire.splice(0)) live(entry)
  if (pending !== undefined) take(cursor.page(pending))
  for (let guard = 0; guard < 10_000; guard++) {
    pending = undefined
    await read()
    if (pending === undefined) break
    take(cursor.page(pending))
  }
  await store.close()
  return { published, delivered, gaps, epochs }
}

test('a subscriber that started before the room had a log is told by a gap when the first log is lost before it read what it saw live', async () => {
  const cursor = new RecoveryCursor('room', { offset: 0, epoch: '' })
  const read = cursor.nextRead()
  assert.ok(read !== undefined)
  assert.deepEqual(cursor.live({ offset: 1, epoch: 'A', name: 'm', data: new Uint8Array(), time: 0 }), [])
  // The read is answered by a new incarnation B: the entry of A came after the read began, so the cursor
  // reads once more; then A (and its offset 1) is known gone.
  const empty = { entries: [], head: { offset: 0, epoch: 'B' }, first: 1 }
  assert.deepEqual(cursor.page(empty), [])
  assert.ok(cursor.nextRead() !== undefined)
  const events = cursor.page(empty)
  assert.deepEqual(events, [
    {
      type: 'gap',
      gap: {
        reason: 'epoch',
        room: 'room',
        epoch: 'B',
        from: 1,
        to: 0,
        count: 0,
        previous: { offset: 0, epoch: 'A' },
      },
    },
  ])
})

test('across restarts of the log, every publication is delivered once in order or covered by a gap', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.boolean(),
      fc.constantFrom(3, 6, Number.POSITIVE_INFINITY),
      fc.array(opArb, { maxLength: 100 }),
      async (fastPath, max, ops) => {
        // From a position in the log (what memory and SQLite heads give). From { 0, '' } (a Redis head of
        // an empty room) a log lost before the subscriber saw any of it cannot be told: see notes.
        const { published, delivered, gaps, epochs } = await run(ops, fastPath, max, false)
        const index = (epoch: string) => epochs.indexOf(epoch)
        const covers = (g: HistoryGap, p: HistoryPosition): boolean => {
          if (p.epoch === g.epoch) return g.from <= p.offset && p.offset <= g.to
          if (g.reason !== 'epoch' || g.previous === undefined) return false
          if (p.epoch === g.previous.epoch) return p.offset > g.previous.offset
          // An incarnation between the one named and the current one is gone as a whole.
          const from = g.previous.epoch === '' ? -1 : index(g.previous.epoch)
          return from < index(p.epoch) && index(p.epoch) < index(g.epoch)
        }
        let d = 0
        for (const p of published) {
          const got = delivered[d]
          if (got !== undefined && got.epoch === p.epoch && got.offset === p.offset) d++
          else
            assert.ok(
              gaps.some((g) => covers(g, p)),
              `${p.epoch}:${p.offset} neither delivered nor in a gap`,
            )
        }
        assert.equal(d, delivered.length, 'nothing delivered twice, out of order, or never published')
        // The newest publication, when the current log has it, is delivered.
        const newest = published.at(-1)
        if (newest !== undefined && newest.epoch === epochs.at(-1)) assert.deepEqual(delivered.at(-1), newest)
      },
    ),
    { numRuns: Number(process.env.WIREKIT_FUZZ_RUNS ?? 0) || 500 },
  )
})
