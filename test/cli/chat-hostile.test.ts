// The chat server against a hostile client: rooms without end, lines refused with the rule over the
// `say` request, refs that are not refs, a ref copied from someone else's line.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { MAX_ROOMS_PER_CLIENT } from '../../src/cli/chat-rules.ts'
import type { ChatLine } from '../../src/cli/serve.ts'
import { MessageClient, type MessageServer } from '../../src/messaging/index.ts'
import { chatServerFor } from './chat-process.ts'

let server: MessageServer
let url: string
const clients: MessageClient[] = []
before(async () => {
  ;({ server, url } = await chatServerFor())
})
after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await server.close()
})

async function client(name: string): Promise<MessageClient> {
  const c = await MessageClient.connect(url, { credentials: { name, token: `${name}-token` } })
  clients.push(c)
  return c
}

const remote = (error: unknown) => String((error as { remoteMessage?: unknown }).remoteMessage)

test(`one client may be in at most ${MAX_ROOMS_PER_CLIENT} rooms: one more join, or a line into one more room, is refused with the rule`, async () => {
  const mallory = await client('mallory')
  for (let i = 0; i < MAX_ROOMS_PER_CLIENT; i++) await mallory.request('join', `room${i}`)
  await assert.rejects(mallory.request('join', 'one-more'), (e) => /at most 50 rooms at once/.test(remote(e)))
  await assert.rejects(mallory.request('say', { room: 'one-more', text: 'hi' }, { timeout: 0 }), (e) =>
    /line refused: .*at most 50 rooms/.test(remote(e)),
  )
  assert.equal(
    (await mallory.request<{ room: string }[]>('rooms')).length,
    MAX_ROOMS_PER_CLIENT,
    'no room was added',
  )
  // Leaving one makes room for another; a room already joined can be joined again.
  await mallory.request('leave', 'room0')
  await mallory.request('join', 'one-more')
  await mallory.request('join', 'room1')
})

test('a line with control characters is refused over the say request, stating the rule, and nothing is stored', async () => {
  const eve = await client('eve')
  await assert.rejects(eve.request('say', { room: 'lobby', text: '\u001b[2Jfake' }, { timeout: 0 }), (e) =>
    /line refused: .*no control characters/.test(remote(e)),
  )
  await assert.rejects(eve.request('say', { room: '../../etc', text: 'x' }, { timeout: 0 }), (e) =>
    /line refused: a room name is/.test(remote(e)),
  )
  assert.deepEqual(await server.history('chat:lobby'), [])
})

test('a ref that is not a ref is dropped (the line is stored without one); a ref copied from another line only suppresses the copy', async () => {
  const alice = await client('alice')
  const trudy = await client('trudy')
  for (const ref of ['x'.repeat(41), 'a b', '<script>', 42]) {
    const { offset } = await trudy.request<{ offset: number }>(
      'say',
      { room: 'refs', text: `bad ref ${String(ref).slice(0, 8)}`, ref },
      { timeout: 0 },
    )
    const [entry] = await server.history('chat:refs', { last: 1 })
    assert.equal(entry!.offset, offset)
    assert.equal((entry!.data as ChatLine).ref, undefined)
  }
  const first = await alice.request<{ offset: number }>(
    'say',
    { room: 'refs', text: 'mine', ref: 'alice-1' },
    { timeout: 0 },
  )
  const copy = await trudy.request<{ offset: number }>(
    'say',
    { room: 'refs', text: 'forged', ref: 'alice-1' },
    { timeout: 0 },
  )
  assert.equal(copy.offset, first.offset)
  const texts = (await server.history('chat:refs')).map((e) => (e.data as ChatLine).text)
  assert.ok(texts.includes('mine') && !texts.includes('forged'))
  // The same ref in another room is another line.
  await alice.request('say', { room: 'refs2', text: 'elsewhere', ref: 'alice-1' }, { timeout: 0 })
  assert.equal((await server.history('chat:refs2')).length, 1)
})

test('nickname changes are limited (each is announced in every room of the client): the sixth in a minute is refused with the rule', async () => {
  const chameleon = await client('chameleon')
  await chameleon.request('join', 'lobby')
  for (let i = 1; i <= 5; i++) await chameleon.request('nick', `chameleon${i}`)
  await assert.rejects(chameleon.request('nick', 'chameleon6'), (e) =>
    /at most 5 nickname changes a minute/.test(remote(e)),
  )
  assert.deepEqual(await chameleon.request('who', 'lobby'), ['chameleon5'])
})
