// The unread-bytes list under the read queue: views where bytes are contiguous, one copy where a read
// spans separate buffers, delimiter search across chunk borders.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ChunkList } from '../../src/socket/chunk-list.ts'

/** Bytes in memory of their own (Buffer.from(string) may put neighbours side by side in Node's pool). */
function ownBuffer(text: string): Buffer {
  const buffer = Buffer.allocUnsafeSlow(text.length)
  buffer.write(text)
  return buffer
}

describe('ChunkList', () => {
  test('a read inside one chunk is a view of that chunk, not a copy', () => {
    const list = new ChunkList()
    const chunk = Buffer.from('abcdefgh')
    list.push(chunk)
    const head = list.take(3)
    assert.equal(head.toString(), 'abc')
    assert.equal(head.buffer, chunk.buffer)
    assert.equal(head.byteOffset, chunk.byteOffset)
    assert.equal(list.length, 5)
  })

  test('chunks that sit side by side in one buffer merge, so a read spanning them is still a view', () => {
    const memory = Buffer.from('0123456789')
    const list = new ChunkList()
    list.push(memory.subarray(0, 4))
    list.push(memory.subarray(4, 10))
    list.take(2)
    const spanning = list.take(6)
    assert.equal(spanning.toString(), '234567')
    assert.equal(spanning.buffer, memory.buffer)
    assert.equal(spanning.byteOffset, memory.byteOffset + 2)
  })

  test('a read spanning chunks of separate buffers is copied once, in order', () => {
    const list = new ChunkList()
    const first = ownBuffer('hello ')
    const second = ownBuffer('wor')
    const third = ownBuffer('ld!')
    list.push(first)
    list.push(second)
    list.push(third)
    const all = list.take(11)
    assert.equal(all.toString(), 'hello world')
    assert.notEqual(all.buffer, first.buffer)
    assert.notEqual(all.buffer, second.buffer)
    assert.equal(list.takeAll().toString(), '!')
    assert.equal(list.length, 0)
  })

  test('chunks that only look adjacent (another buffer, or a gap) are not merged', () => {
    const memory = Buffer.from('abcdef')
    const list = new ChunkList()
    list.push(memory.subarray(0, 2))
    list.push(memory.subarray(3, 6)) // skips 'c'
    assert.equal(list.takeAll().toString(), 'abdef')
  })

  test('indexAfter finds a delimiter split across chunks and one starting past `from`', () => {
    const list = new ChunkList()
    for (const part of ['GET / HTTP/1.1\r', '\nHost: x\r', '\n\r\n']) list.push(ownBuffer(part))
    assert.equal(list.indexAfter(Buffer.from('\r\n'), 0), 16)
    assert.equal(list.indexAfter(Buffer.from('\r\n'), 16), 25)
    assert.equal(list.indexAfter(Buffer.from('\r\n\r\n'), 0), 27)
    assert.equal(list.indexAfter(Buffer.from('nope'), 0), -1)
  })

  test('thousands of one-byte chunks, pushed and taken in rounds, come out in order', () => {
    const list = new ChunkList()
    let expected = 0
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) list.push(Buffer.of((round * 100 + i) & 0xff))
      while (list.length > 1) {
        const byte = list.take(1)[0]!
        assert.equal(byte, expected & 0xff)
        expected++
      }
    }
    assert.equal(list.takeAll()[0], expected & 0xff)
  })
})
