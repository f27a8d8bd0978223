// Property test of the history log (fast-check): random appends, clock steps, reads from random
// positions (valid, trimmed, from another epoch, beyond the head) and, for SQLite, reopens. Every read
// must equal the appended sequence after the position, or report a gap naming exactly what is missing;
// what a room keeps must respect the limits and be the most the limits allow.

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import {
  type HistoryLimits,
  type HistoryStore,
  MemoryHistoryStore,
  RedisHistoryStore,
  SqliteHistoryStore,
} from '../../src/messaging/cluster/history/index.ts'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.ts'

type Op =
  | { kind: 'append'; room: string; size: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'read'; room: string; delta: number; epoch: 'same' | 'other' | 'none'; limit: number }
  | { kind: 'reopen' }

const ROOMS = ['a', 'b']
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      room: fc.constantFrom(...ROOMS),
      size: fc.nat(20),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(600) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      room: fc.constantFrom(...ROOMS),
      delta: fc.integer({ min: -12, max: 2 }),
      epoch: fc.constantFrom('same' as const, 'same' as const, 'other' as const, 'none' as const),
      limit: fc.integer({ min: 1, max: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
)
const limitsArb = fc.record({
  maxMessages: fc.integer({ min: 1, max: 8 }),
  maxBytes: fc.integer({ min: 10, max: 120 }),
  maxAge: fc.integer({ min: 100, max: 2000 }),
})

type Kept = { offset: number; data: string; time: number }
type Factory = (
  limits: HistoryLimits,
  clock: () => number,
) => { store: HistoryStore; reopen?: () => HistoryStore }

async function check(factory: Factory, limits: Required<HistoryLimits>, ops: Op[]): Promise<void> {
  let now = 1_000_000
  const clock = (): number => now
  const made = factory(limits, clock)
  let store = made.store
  const appended = new Map<string, Kept[]>(ROOMS.map((r) => [r, []]))
  const firstSeen = new Map<string, number>(ROOMS.map((r) => [r, 1]))
  // An epoch per room (the Redis store keeps one per room; memory and SQLite one per store).
  const epochs = new Map<string, string>()
  try {
    for (const op of ops) {
      if (op.kind === 'tick') now += op.ms
      else if (op.kind === 'reopen') {
        if (made.reopen === undefined) continue
        await store.close()
        store = made.reopen()
      } else if (op.kind === 'append') {
        const list = appended.get(op.room)!
        const data = `${op.room}${list.length + 1}`.padEnd(op.size, '.')
        const position = await store.append(op.room, 'n', Buffer.from(data))
        assert.equal(position.offset, list.length + 1)
        if (!epochs.has(op.room)) epochs.set(op.room, position.epoch)
        assert.equal(position.epoch, epochs.get(op.room), 'the epoch never changes while the storage lives')
        list.push({ offset: position.offset, data, time: now })
      } else {
        const list = appended.get(op.room)!
        const last = list.length
        const epoch = epochs.get(op.room) ?? ''
        const offset = Math.max(0, last + op.delta)
        const after =
          op.epoch === 'same' ? { offset, epoch } : op.epoch === 'other' ? { offset, epoch: 'x' } : undefined
        if (after !== undefined && after.epoch === '') after.offset = 0
        const page = await store.read(op.room, { after, limit: op.limit })
        assert.equal(page.head.offset, last)
        const first = page.first
        assert.ok(first >= firstSeen.get(op.room)!, 'the oldest kept offset never moves back')
        firstSeen.set(op.room, first)
        // What is kept fits the limits, and is the most the limits allow.
        const kept = list.slice(first - 1)
        const size = (k: Kept): number => 1 + k.data.length
        const bytes = kept.reduce((sum, k) => sum + size(k), 0)
        assert.ok(kept.length <= limits.maxMessages && bytes <= limits.maxBytes)
        assert.ok(kept.every((k) => k.time >= now - limits.maxAge))
        if (first > 1) {
          const dropped = list[first - 2]!
          const over =
            kept.length + 1 > limits.maxMessages ||
            bytes + size(dropped) > limits.maxBytes ||
            dropped.time < now - limits.maxAge
          assert.ok(over, `offset ${first - 1} was dropped though the limits allowed it`)
        }
        // The read: exactly the sequence after the position, or a gap naming what is missing, then the rest.
        const valid =
          after !== undefined &&
          (after.epoch === '' ? after.offset === 0 : after.epoch === epoch && offset <= last)
        let start = first
        if (after === undefined) assert.equal(page.gap, undefined)
        else if (!valid) {
          assert.equal(page.gap?.reason, 'epoch')
          assert.deepEqual(page.gap?.previous, after)
          assert.deepEqual([page.gap?.from, page.gap?.to], [1, first - 1])
        } else if (after.offset + 1 < first) {
          assert.deepEqual(
            [page.gap?.reason, page.gap?.from, page.gap?.to, page.gap?.count],
            ['trimmed', after.offset + 1, first - 1, first - 1 - after.offset],
          )
        } else {
          assert.equal(page.gap, undefined)
          start = after.offset + 1
        }
        const expected = list.slice(start - 1, start - 1 + op.limit)
        assert.deepEqual(
          page.entries.map((e) => [e.offset, Buffer.from(e.data).toString(), e.time]),
          expected.map((k) => [k.offset, k.data, k.time]),
        )
      }
    }
  } finally {
    await store.close()
  }
}

let dir: string
let redis: RedisServer
let n = 0
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wirekit-history-prop-'))
  redis = await startRedisServer()
})
after(async () => {
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

const runs = Number(process.env.WIREKIT_FUZZ_RUNS ?? 0)

test('memory log: reads equal the appended sequence after the position, or a precise gap', async () => {
  await fc.assert(
    fc.asyncProperty(limitsArb, fc.array(opArb, { maxLength: 80 }), (limits, ops) =>
      check((l, clock) => ({ store: new MemoryHistoryStore({ ...l, clock }) }), limits, ops),
    ),
    { numRuns: runs || 300 },
  )
})

test('SQLite log, reopened at random: reads equal the appended sequence after the position, or a precise gap', async () => {
  await fc.assert(
    fc.asyncProperty(limitsArb, fc.array(opArb, { maxLength: 60 }), (limits, ops) => {
      const path = join(dir, `p${n++}.sqlite`)
      return check(
        (l, clock) => ({
          store: new SqliteHistoryStore({ ...l, clock, path }),
          reopen: () => new SqliteHistoryStore({ ...l, clock, path }),
        }),
        limits,
        ops,
      )
    }),
    { numRuns: runs || 100 },
  )
})

test('Redis Streams log: reads equal the appended sequence after the position, or a precise gap', async () => {
  await fc.assert(
    fc.asyncProperty(limitsArb, fc.array(opArb, { maxLength: 60 }), (limits, ops) => {
      const prefix = `p${n++}`
      return check(
        (l, clock) => ({
          store: new RedisHistoryStore({ ...l, clock, redis: redis.url, prefix }),
          reopen: () => new RedisHistoryStore({ ...l, clock, redis: redis.url, prefix }),
        }),
        limits,
        ops,
      )
    }),
    { numRuns: runs || 50 },
  )
})
