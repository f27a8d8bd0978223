import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type QueryObject, serializeQuery } from '../../src/http/query.ts'

test('serializeQuery repeats array keys by default, or writes brackets or commas when asked', () => {
  const input = { tag: ['a', 'b c'] }
  assert.equal(serializeQuery(input), 'tag=a&tag=b%20c')
  assert.equal(serializeQuery(input, { arrayFormat: 'brackets' }), 'tag%5B%5D=a&tag%5B%5D=b%20c')
  assert.equal(serializeQuery(input, { arrayFormat: 'comma' }), 'tag=a,b%20c')
})

test('serializeQuery writes nested objects as bracket paths and skips null and undefined', () => {
  const query = serializeQuery({ a: { b: { c: 1 } }, d: null, e: undefined, f: true, g: 10n })
  assert.equal(decodeURIComponent(query), 'a[b][c]=1&f=true&g=10')
})

test('serializeQuery writes dates as ISO 8601 and spaces as + only for forms', () => {
  const when = new Date('2030-01-02T03:04:05.000Z')
  assert.equal(serializeQuery({ at: when }), 'at=2030-01-02T03%3A04%3A05.000Z')
  assert.equal(serializeQuery({ q: 'a b' }, {}, true), 'q=a+b')
  assert.equal(serializeQuery(new URLSearchParams({ q: 'a b' })), 'q=a%20b')
  assert.equal(serializeQuery([['k', 'v&w']]), 'k=v%26w')
})

test('serializeQuery rejects nesting deeper than 16 levels, so a cycle cannot recurse forever', () => {
  const cyclic: QueryObject = {}
  cyclic.self = cyclic
  assert.throws(() => serializeQuery(cyclic), { code: 'WK_INVALID_ARGUMENT' })
})
