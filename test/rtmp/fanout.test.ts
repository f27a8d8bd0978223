// Fan-out in slices: with `playersPerTurn` smaller than the audience, a publisher's data reaches the
// players over several event-loop turns; every player still gets every tag once, in order, and a
// player joining while slices are pending gets no tag twice (its GOP-cache start covers them). Each
// player keeps its own place: a visit hands it everything it lacks in one write.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { type FlvTag, RtmpClient, type RtmpPlayer, RtmpServer } from '../../src/rtmp/index.ts'
import { LiveStream, type Subscriber } from '../../src/rtmp/live-stream.ts'
import { mediaItem } from '../../src/rtmp/media-item.ts'
import { until } from '../interop/rtmp-tools.ts'
import { aacConfig, avcConfig, gops, hex } from './fixtures.ts'

const server = new RtmpServer({ playersPerTurn: 2 })
after(() => server.close())
const listening = server.listen({ port: 0 })
const url = async (key: string) => `rtmp://127.0.0.1:${(await listening).port}/live/${key}`

function collect(player: RtmpPlayer): FlvTag[] {
  const got: FlvTag[] = []
  void (async () => {
    for await (const tag of player.tags()) got.push(tag)
  })()
  return got
}

test('seven players with two served per turn all get every tag once, in order, with a joiner in the middle', async () => {
  const publisher = await RtmpClient.publish(await url('slices'))
  const head = [avcConfig(), aacConfig()]
  for (const tag of head) await publisher.writeTag(tag)
  const players = await Promise.all(
    Array.from({ length: 6 }, async () => RtmpClient.play(await url('slices'))),
  )
  const received = players.map(collect)
  await until(() => server.stats().streams[0]?.players === 6, 5000, 'six players')
  const media = gops(4, 5)
  const half = media.length / 2
  // Written without waiting for the server, so reads carry several tags and slices overlap.
  const first = media.slice(0, half).map((tag) => publisher.writeTag(tag))
  const joiner = await RtmpClient.play(await url('slices'))
  const late = collect(joiner)
  await Promise.all([...first, ...media.slice(half).map((tag) => publisher.writeTag(tag))])
  const all = [...head, ...media]
  await until(() => received.every((got) => got.length >= all.length), 10_000, 'every tag at every player')
  for (const got of received) assert.deepEqual(hex(got), hex(all))
  // The joiner starts with the sequence headers, then a keyframe, then everything after it, once.
  await until(
    () => late.at(-1)?.timestamp === media.at(-1)!.timestamp && late.at(-1)?.type === 8,
    10_000,
    'the joiner to catch up',
  )
  assert.deepEqual(hex(late.slice(0, 2)), hex(head))
  const start = media.findIndex((t) => hex([t])[0] === hex([late[2]!])[0])
  assert.ok(start >= 0 && late[2]!.data[0] === 0x17, 'the joiner starts at a keyframe')
  assert.deepEqual(hex(late.slice(2)), hex(media.slice(start)))
  for (const p of [...players, joiner]) p.close()
  await publisher.close()
})

// ---- the stream core itself, driven turn by turn (LiveStream is not public: no sockets here) ----

/** What a player was handed, and in how many deliveries (each is one write for a real player). */
type Seen = { name: string; got: string[]; writes: number }

function recorder(name: string, log: Seen[]): Subscriber & Seen {
  const seen: Subscriber & Seen = {
    name,
    got: [],
    writes: 0,
    deliver: (batch) => {
      seen.writes++
      seen.got.push(...batch.items.map((i) => `${i.type}@${i.timestamp}`))
    },
    published: () => {},
    unpublished: () => seen.got.push('end'),
  }
  log.push(seen)
  return seen
}
const publisherStub = { id: 'p', idleFor: () => 0, end: () => {} }
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const frames = (from: number, count: number) =>
  gops(1, count, from)
    .filter((t) => t.type === 9)
    .map((t) => mediaItem(9, t.timestamp, t.data))

test('what one turn reads reaches the players after the poll phase as one batch, two players per turn, in order', async () => {
  const live = new LiveStream('live', 'core', { gopCache: true, maxGopBytes: 1 << 20, playersPerTurn: 2 })
  live.start(publisherStub, Date.now())
  const log: Seen[] = []
  for (let i = 0; i < 5; i++) live.addPlayer(recorder(`p${i}`, log))
  const writes = () => log.map((seen) => seen.writes)
  for (const item of frames(0, 2)) live.receive(item)
  live.flush()
  assert.deepEqual(writes(), [0, 0, 0, 0, 0]) // not inside the read: after this turn's I/O
  for (const item of frames(80, 1)) live.receive(item)
  live.flush() // a second read in the same turn joins the batch
  await turn()
  assert.deepEqual(writes(), [1, 1, 0, 0, 0])
  assert.deepEqual(log[0]!.got, ['9@0', '9@40', '9@80'])
  for (const item of frames(120, 1)) live.receive(item)
  live.flush() // a pass is under way: the players it has not visited get this read with the first
  for (let i = 0; i < 6; i++) await turn()
  for (const s of log) assert.deepEqual(s.got, ['9@0', '9@40', '9@80', '9@120'])
  assert.deepEqual(writes(), [2, 2, 1, 1, 1])
  assert.equal(live.backlog, 0, 'every player had every item: the stream holds none')
  for (let i = 0; i < 50; i++) {
    for (const item of frames(160 + i * 40, 1)) live.receive(item)
    live.flush()
    // A pass over five players at two a turn takes three turns: the stream holds what the pass under
    // way and the one before it cover (one item a turn here), whatever the count of items so far.
    assert.ok(live.backlog <= 6, `held ${live.backlog} items`)
    await turn()
  }
  for (let i = 0; i < 6; i++) await turn()
  assert.equal(live.backlog, 0)
  for (const s of log) assert.equal(s.got.length, 54)
})

test('a player joining while batches are pending gets none of the frames its join items already hold', async () => {
  const live = new LiveStream('live', 'join', { gopCache: true, maxGopBytes: 1 << 20, playersPerTurn: 1 })
  live.start(publisherStub, Date.now())
  const log: Seen[] = []
  for (let i = 0; i < 3; i++) live.addPlayer(recorder(`p${i}`, log))
  for (const item of frames(0, 3)) live.receive(item)
  live.flush() // p0 served now, p1 and p2 later
  const joiner = recorder('joiner', [])
  live.addPlayer(joiner)
  joiner.got.push(...live.joinItems().map((i) => `${i.type}@${i.timestamp}`)) // what a session writes on join
  for (const item of frames(120, 1)) live.receive(item)
  live.flush()
  for (let i = 0; i < 10; i++) await turn()
  const all = ['9@0', '9@40', '9@80', '9@120']
  for (const s of log) assert.deepEqual(s.got, all)
  assert.deepEqual(joiner.got, all)
})

test('the publisher leaving hands every pending batch to every player before the end', () => {
  const live = new LiveStream('live', 'stop', { gopCache: true, maxGopBytes: 1 << 20, playersPerTurn: 1 })
  live.start(publisherStub, Date.now())
  const log: Seen[] = []
  for (let i = 0; i < 3; i++) live.addPlayer(recorder(`p${i}`, log))
  for (const item of frames(0, 2)) live.receive(item)
  live.flush()
  live.stop(publisherStub)
  for (const s of log) assert.deepEqual(s.got, ['9@0', '9@40', 'end'])
})

test('reads arriving while a pass lags reach the players not yet visited in one write; a joiner gets only what its join items lack', async () => {
  const live = new LiveStream('live', 'merge', { gopCache: true, maxGopBytes: 1 << 20, playersPerTurn: 1 })
  live.start(publisherStub, Date.now())
  const log: Seen[] = []
  for (let i = 0; i < 3; i++) live.addPlayer(recorder(`p${i}`, log))
  const writes = () => log.map((seen) => seen.writes)
  const [a, b, c, d, e] = frames(0, 5)
  live.receive(a!)
  live.flush()
  await turn() // in progress: p0 has it
  live.receive(b!)
  live.flush() // p0 has had its visit in this pass: it gets b in the next one
  live.receive(c!)
  const joiner = recorder('joiner', [])
  live.receive(d!)
  live.addPlayer(joiner) // its join items hold a to d
  joiner.got.push(...live.joinItems().map((i) => `${i.type}@${i.timestamp}`))
  live.flush()
  live.receive(e!)
  live.flush()
  for (let i = 0; i < 12; i++) await turn()
  const all = ['9@0', '9@40', '9@80', '9@120', '9@160']
  for (const s of log) assert.deepEqual(s.got, all)
  // p0: a, then b to e; p1 and p2, visited after e arrived: all five in one write.
  assert.deepEqual(writes(), [2, 1, 1])
  assert.deepEqual(joiner.got, all)
  assert.equal(joiner.writes, 1) // e alone
})

test('each pass starts one slice further on: no player is always served last, and every pass reaches every player', async () => {
  const live = new LiveStream('live', 'rotate', { gopCache: true, maxGopBytes: 1 << 20, playersPerTurn: 2 })
  live.start(publisherStub, Date.now())
  const order: string[] = []
  const log: Seen[] = []
  const players: (Subscriber & Seen)[] = []
  for (let i = 0; i < 5; i++) {
    const player = recorder(`p${i}`, log)
    const deliver = player.deliver
    player.deliver = (batch) => {
      order.push(player.name)
      deliver(batch)
    }
    players.push(player)
    live.addPlayer(player)
  }
  const firsts: string[] = []
  for (let f = 0; f < 5; f++) {
    order.length = 0
    for (const item of frames(f * 40, 1)) live.receive(item)
    live.flush()
    for (let i = 0; i < 4; i++) await turn()
    assert.deepEqual([...order].sort(), ['p0', 'p1', 'p2', 'p3', 'p4'], `frame ${f}: each player once`)
    firsts.push(order[0]!)
  }
  // Two players a turn: each pass starts two players after the last one's start.
  assert.deepEqual(firsts, ['p0', 'p2', 'p4', 'p1', 'p3'])
  // The sixth pass starts at p0 again, the seventh at p2: it visits p2 to p4, then wraps to p0 and p1.
  for (const item of frames(200, 1)) live.receive(item)
  live.flush()
  for (let i = 0; i < 4; i++) await turn()
  for (const item of frames(240, 1)) live.receive(item)
  live.flush()
  order.length = 0
  await turn()
  assert.deepEqual(order, ['p2', 'p3'])
  // p0, which the pass skipped at its start, leaves while it is under way: nobody else misses anything.
  live.players.delete(players[0]!)
  for (let i = 0; i < 4; i++) await turn()
  assert.deepEqual(order, ['p2', 'p3', 'p4', 'p1'])
  for (const s of log) assert.equal(s.got.length, s.name === 'p0' ? 6 : 7, `${s.name} got ${s.got.join(' ')}`)
  assert.equal(live.backlog, 0)
})
