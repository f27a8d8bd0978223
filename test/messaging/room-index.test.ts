// The room index both adapters keep (cluster/rooms/room-index.ts), fed peers directly: own rooms,
// joins and leaves that report a change (RedisAdapter stores rooms only then), and a broadcast's audience.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AdapterPeer } from '../../src/messaging/cluster/adapter.ts'
import { inAudience, RoomIndex } from '../../src/messaging/cluster/rooms/room-index.ts'

function peer(id: string): AdapterPeer {
  return { id, connected: true, deliver() {} }
}

const ids = (peers: Iterable<AdapterPeer>): string[] => [...peers].map((p) => p.id).sort()

describe('RoomIndex', () => {
  test('every peer is in the room named by its id, without joining it', () => {
    const index = new RoomIndex()
    const a = peer('~a')
    index.add(a)
    assert.deepEqual(ids(index.peersIn('~a')), ['~a'])
    assert.deepEqual([...index.roomsOf(a)], ['~a'])
    assert.equal(index.join(a, '~a'), false, 'joining its own room changes nothing')
    assert.equal(index.leave(a, '~a'), false, 'its own room cannot be left')
    assert.deepEqual(ids(index.peersIn('~a')), ['~a'])
  })

  test('join and leave report whether they changed anything', () => {
    const index = new RoomIndex()
    const a = peer('~a')
    index.add(a)
    assert.equal(index.join(a, 'lobby'), true)
    assert.equal(index.join(a, 'lobby'), false)
    assert.deepEqual([...index.roomsOf(a)], ['~a', 'lobby'])
    assert.equal(index.leave(a, 'lobby'), true)
    assert.equal(index.leave(a, 'lobby'), false)
    assert.deepEqual(ids(index.peersIn('lobby')), [])
  })

  test('remove takes a peer out of every room, but not a newer peer of the same id', () => {
    const index = new RoomIndex()
    const old = peer('~a')
    index.add(old)
    index.join(old, 'lobby')
    const resumed = peer('~a')
    index.add(resumed)
    index.remove(old)
    assert.deepEqual(ids(index.peersIn('lobby')), [])
    assert.equal([...index.peersIn('~a')][0], resumed)
    assert.equal(index.size, 1)
  })

  test('a broadcast reaches each peer in any of the rooms once, and none in an excepted room', () => {
    const index = new RoomIndex()
    const [a, b, c, d] = ['~a', '~b', '~c', '~d'].map(peer)
    for (const p of [a, b, c, d]) index.add(p!)
    index.join(a!, 'red')
    index.join(a!, 'blue')
    index.join(b!, 'blue')
    index.join(c!, 'blue')
    index.join(c!, 'muted')
    const target = { rooms: new Set(['red', 'blue']), except: new Set(['muted']) }
    assert.deepEqual(ids(index.audience(target)), ['~a', '~b'])
    assert.deepEqual(ids(index.audience({ rooms: undefined, except: new Set(['~d', 'red']) })), ['~b', '~c'])
    assert.deepEqual(ids(index.audience({ rooms: undefined, except: undefined })), ['~a', '~b', '~c', '~d'])
  })

  test('inAudience applies the same rule to a stored set of rooms', () => {
    const mine = new Set(['~a', 'blue'])
    assert.equal(inAudience(mine, { rooms: new Set(['blue']), except: undefined }), true)
    assert.equal(inAudience(mine, { rooms: new Set(['blue']), except: new Set(['~a']) }), false)
    assert.equal(inAudience(mine, { rooms: new Set(['red']), except: undefined }), false)
    assert.equal(inAudience(mine, { rooms: undefined, except: undefined }), true)
  })
})
