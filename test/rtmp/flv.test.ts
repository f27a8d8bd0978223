// FLV, fed bytes: tags written and read back in any split; a bad signature or an oversize tag is
// WK_RTMP_FLV, found before the tag's bytes are buffered.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { encodeFlvTag, FlvReader, flvHeader } from '../../src/rtmp/index.ts'

test('tags written with flvHeader and encodeFlvTag read back, whole or a byte at a time', () => {
  const tags = [
    { type: 18 as const, timestamp: 0, data: Buffer.from('meta') },
    { type: 9 as const, timestamp: 40, data: Buffer.alloc(300, 9) },
    { type: 8 as const, timestamp: 0x01020304, data: Buffer.from([0xaf, 1, 2]) },
  ]
  const file = Buffer.concat([flvHeader(), ...tags.map((t) => encodeFlvTag(t.type, t.timestamp, t.data))])
  assert.deepEqual(new FlvReader().push(file), tags)
  const reader = new FlvReader()
  const split = []
  for (let i = 0; i < file.length; i++) split.push(...reader.push(file.subarray(i, i + 1)))
  assert.deepEqual(split, tags)
  assert.equal(reader.bufferedBytes, 0)
})

test('not an FLV stream, or a tag over maxTagSize, is WK_RTMP_FLV', () => {
  const is = (e: unknown) => e instanceof ProtocolError && e.code === ErrorCodes.RTMP_FLV
  assert.throws(() => new FlvReader().push(Buffer.from('GIF89a........')), is)
  const big = Buffer.concat([flvHeader(), Buffer.from('09ffffff00000000000000', 'hex')])
  assert.throws(() => new FlvReader({ maxTagSize: 1 << 20 }).push(big), is)
})
