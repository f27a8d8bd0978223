// take(): what a player gets of a batch, as one buffer. Players keeping up share the same bytes; a
// player over its cap gets only what a decoder cannot do without, then resumes at a keyframe.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FLV_ENCODING, type MediaBatch, mediaItem, rtmpEncoding } from '../../src/rtmp/media-item.ts'
import { PlayerGate, take } from '../../src/rtmp/player-gate.ts'
import { avcConfig, gops } from './fixtures.ts'

const batchOf = (tags: { type: number; timestamp: number; data: Buffer }[]): MediaBatch => ({
  items: tags.map((t) => mediaItem(t.type as 8 | 9, t.timestamp, t.data)),
  joined: undefined,
})
const started = () => {
  const gate = new PlayerGate()
  gate.waiting = false
  return gate
}

test('players keeping up get the whole batch as one buffer, the same one for every player of an encoding', () => {
  const batch = batchOf(gops(1, 4))
  const a = take(started(), batch, 0, 1 << 20, true, FLV_ENCODING)
  const b = take(started(), batch, 0, 1 << 20, true, FLV_ENCODING)
  assert.ok(a !== undefined && a === b)
  assert.deepEqual(a, Buffer.concat(batch.items.map(FLV_ENCODING.encode)))
  const rtmp = rtmpEncoding(1, 4096)
  const c = take(started(), batch, 0, 1 << 20, true, rtmp)
  assert.ok(
    c !== undefined && c !== a && c === take(started(), batch, 0, 1 << 20, true, rtmpEncoding(1, 4096)),
  )
})

test('a player over its cap gets the sequence header of the batch and no frames, then restarts at a keyframe', () => {
  const gate = started()
  const config = avcConfig()
  const rest = gops(2, 3)
    .filter((t) => t.type === 9)
    .slice(1) // after the first keyframe
  const behind = take(gate, batchOf([config, ...rest.slice(0, 2)]), 10_000, 1000, true, FLV_ENCODING)
  assert.deepEqual(behind, FLV_ENCODING.encode(mediaItem(9, config.timestamp, config.data)))
  assert.equal(gate.waiting, true)
  assert.equal(gate.skipped, 2)
  // Back under the cap: frames before the next keyframe are skipped, the keyframe and what follows go.
  const nextKey = rest.find((t) => t.data[0] === 0x17)!
  const after = rest.slice(rest.indexOf(nextKey))
  const caught = take(gate, batchOf([rest[0]!, ...after]), 0, 1 << 20, true, FLV_ENCODING)
  assert.deepEqual(caught, Buffer.concat(batchOf(after).items.map(FLV_ENCODING.encode)))
  assert.equal(gate.waiting, false)
})
