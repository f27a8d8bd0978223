// AMF0, fed bytes: every value type round-trips, the decoder reads what Flash-era encoders send,
// and malformed input is a ProtocolError WK_RTMP_AMF, never a crash or a huge allocation.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { AmfEcmaArray, decodeAmf0, encodeAmf0 } from '../../src/rtmp/index.ts'

test('numbers, booleans, strings, null, undefined, objects, arrays and dates round-trip', () => {
  const values = [
    1.5,
    -0,
    true,
    false,
    'hello, 世界',
    null,
    undefined,
    { app: 'live', nested: { n: 1, list: [1, 'two', null] } },
    [],
    new Date(1_700_000_000_000),
    'x'.repeat(70_000), // a long string
  ]
  assert.deepEqual(decodeAmf0(encodeAmf0(...values)), values)
})

test('an ECMA array decodes to an object with its properties', () => {
  const encoded = encodeAmf0('onMetaData', new AmfEcmaArray({ width: 1280, height: 720 }))
  assert.equal(encoded[13], 0x08)
  assert.deepEqual(decodeAmf0(encoded), ['onMetaData', { width: 1280, height: 720 }])
})

test('a connect command as ffmpeg sends it decodes', () => {
  const bytes = Buffer.from(
    '0200076' +
      '36f6e6e656374003ff0000000000000030003617070020004' +
      '6c69766500047479706502000a6e6f6e707269766174650000' +
      '09',
    'hex',
  )
  assert.deepEqual(decodeAmf0(bytes), ['connect', 1, { app: 'live', type: 'nonprivate' }])
})

test('a __proto__ key stays a plain property', () => {
  const bytes = Buffer.from(`030009${Buffer.from('__proto__').toString('hex')}0101000009`, 'hex')
  const [object] = decodeAmf0(bytes) as [Record<string, unknown>]
  assert.equal(Object.getPrototypeOf(object), Object.prototype)
  assert.equal(Object.getOwnPropertyDescriptor(object, '__proto__')?.value, true)
})

function malformed(hex: string) {
  assert.throws(
    () => decodeAmf0(Buffer.from(hex, 'hex')),
    (e) => e instanceof ProtocolError && e.code === ErrorCodes.RTMP_AMF,
    hex,
  )
}

test('truncated values, unknown markers, references and stray object ends are WK_RTMP_AMF', () => {
  malformed('00 0102'.replace(/ /g, '')) // number cut short
  malformed('020005616263') // string shorter than its length
  malformed('0c7fffffff') // long string of 2 GB in 5 bytes
  malformed('0300016100') // object without its end marker
  malformed('0b0000') // date cut short
  malformed('07 0001'.replace(/ /g, '')) // reference
  malformed('09') // object end alone
  malformed('11') // AMF3 switch
  malformed('ff')
})

test('a strict array claiming 4 billion items in a few bytes is refused before any loop', () => {
  malformed('0affffffff0000')
})

test('nesting past 64 levels is refused, not a stack overflow', () => {
  malformed(`${'0a00000001'.repeat(1000)}05`)
})
