// The SQLite history store on real files: the epoch and the log survive a reopen, a new file is a new
// epoch, one store per file, and a process killed with SIGKILL mid-write loses nothing it acknowledged.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isWirekitError } from '../../src/errors.ts'
import { SqliteHistoryStore } from '../../src/messaging/cluster/history/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'wirekit-history-sqlite-'))
const stores: SqliteHistoryStore[] = []
const open = (name: string, options: { maxMessages?: number } = {}): SqliteHistoryStore => {
  const store = new SqliteHistoryStore({ path: join(dir, name), ...options })
  stores.push(store)
  return store
}
after(async () => {
  await Promise.allSettled(stores.map((s) => s.close()))
  rmSync(dir, { recursive: true, force: true })
})

test('a reopened file keeps its epoch, its entries and its numbering', async () => {
  const first = open('reopen.sqlite')
  const positions = await Promise.all(['a', 'b', 'c'].map((t) => first.append('r', 'chat', Buffer.from(t))))
  await first.close()
  const second = open('reopen.sqlite')
  assert.equal(second.epoch, positions[0]!.epoch)
  const page = await second.read('r', { after: { offset: 1, epoch: second.epoch } })
  assert.deepEqual(
    page.entries.map((e) => Buffer.from(e.data).toString()),
    ['b', 'c'],
  )
  assert.deepEqual(await second.append('r', 'chat', Buffer.from('d')), { offset: 4, epoch: second.epoch })
})

test('rooms named one after another do not grow the process: idle room states are dropped and read back, numbering intact', async () => {
  const store = open('many-rooms.sqlite')
  for (const t of ['a', 'b', 'c']) await store.append('kept', 'chat', Buffer.from(t))
  for (let i = 0; i < 12_000; i++) await store.head(`room-${i}`)
  assert.ok(store.cachedRooms <= 10_000, `${store.cachedRooms} room states in memory`)
  assert.deepEqual(await store.append('kept', 'chat', Buffer.from('d')), { offset: 4, epoch: store.epoch })
  // Appends waiting in the batch keep their room's state while others are dropped.
  const waiting = store.append('busy', 'chat', Buffer.from('x'))
  for (let i = 0; i < 12_000; i++) await store.head(`other-${i}`)
  assert.equal((await waiting).offset, 1)
  assert.equal((await store.append('busy', 'chat', Buffer.from('y'))).offset, 2)
})

test('a new file starts a new epoch', async () => {
  const one = open('new-1.sqlite')
  const two = open('new-2.sqlite')
  assert.notEqual(one.epoch, two.epoch)
  assert.match(one.epoch, /^[0-9a-f]{16}$/)
})

test('trimming is remembered across a reopen: the trimmed offsets stay reported as gone', async () => {
  const first = open('trim.sqlite', { maxMessages: 2 })
  for (const t of ['1', '2', '3', '4', '5']) await first.append('r', 'chat', Buffer.from(t))
  await first.close()
  const second = open('trim.sqlite', { maxMessages: 2 })
  const page = await second.read('r', { after: { offset: 0, epoch: second.epoch } })
  assert.deepEqual(page.gap && [page.gap.from, page.gap.to, page.gap.count], [1, 3, 3])
  assert.deepEqual(
    page.entries.map((e) => e.offset),
    [4, 5],
  )
})

test('a second store on a file that is open is refused with WK_HISTORY_FAILED', async () => {
  open('busy.sqlite')
  assert.throws(
    () => open('busy.sqlite'),
    (e) => isWirekitError(e, 'WK_HISTORY_FAILED'),
  )
})

test('a writer killed with SIGKILL mid-stream loses no acknowledged entry, and the epoch survives', async () => {
  const path = join(dir, 'killed.sqlite')
  const script = fileURLToPath(new URL('./fixtures/history-writer.ts', import.meta.url))
  const child = spawn(process.execPath, [script, path, '1000000'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let epoch = ''
  let acknowledged = 0
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const lines = createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${acknowledged} acknowledged in 30 s`)), 30_000)
    lines.on('line', (line) => {
      const [word, value] = line.split(' ') as [string, string]
      if (word === 'epoch') epoch = value
      if (word === 'ack') acknowledged = Number(value)
      if (acknowledged >= 5_000) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  child.kill('SIGKILL') // while it keeps appending: batches in flight at the kill are not acknowledged
  await exited
  const store = open('killed.sqlite', { maxMessages: Number.POSITIVE_INFINITY })
  assert.equal(store.epoch, epoch)
  const head = await store.head('room')
  assert.ok(head.offset >= acknowledged, `head ${head.offset} is behind the acknowledged ${acknowledged}`)
  // Every offset 1..head is there once, in order, with its own data: no hole, no torn entry.
  let expected = 1
  for (let after = 0; after < head.offset; ) {
    const page = await store.read('room', { after: { offset: after, epoch }, limit: 10_000 })
    assert.equal(page.gap, undefined)
    for (const entry of page.entries) {
      assert.equal(entry.offset, expected)
      assert.equal(Buffer.from(entry.data).toString(), `m${expected}`)
      expected++
    }
    after = page.entries.at(-1)!.offset
  }
  assert.equal(expected - 1, head.offset)
})
