// The handshake, fed bytes: the simple form echoes C1; the digest form (what Flash and ffmpeg
// send) gets an S1 with the server digest and an S2 signed from the client's digest.
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { ErrorCodes, ProtocolError } from '../../src/errors.ts'
import { digestOffset, findDigest, handshakeKeys, signPacket } from '../../src/rtmp/handshake.ts'
import { answerHandshake, clientAck, clientHello } from '../../src/rtmp/index.ts'

test('simple form: S0 is 3, S1 has a zero version, S2 echoes C1; the client echoes S1 as C2', () => {
  const c0c1 = clientHello(123)
  const answer = answerHandshake(c0c1)
  assert.equal(answer.length, 3073)
  assert.equal(answer[0], 3)
  assert.equal(answer.readUInt32BE(5), 0)
  assert.deepEqual(answer.subarray(1537), c0c1.subarray(1))
  assert.deepEqual(clientAck(answer), answer.subarray(1, 1537))
})

for (const scheme of [0, 1] as const) {
  test(`digest form, scheme ${scheme}: S1 carries a valid server digest and S2 is signed from the client digest`, () => {
    const c1 = randomBytes(1536)
    c1.writeUInt32BE(0, 0)
    c1.writeUInt32BE(0x09007c02, 4) // Flash Player 9.0.124.2, as ffmpeg announces
    const clientDigest = signPacket(c1, handshakeKeys.player, scheme)
    const answer = answerHandshake(Buffer.concat([Buffer.of(3), c1]))
    const s1 = answer.subarray(1, 1537)
    const s2 = answer.subarray(1537)
    assert.notEqual(s1.readUInt32BE(4), 0, 'S1 announces a version')
    const found = findDigest(s1, handshakeKeys.server)
    assert.equal(found?.scheme, scheme)
    assert.equal(found?.offset, digestOffset(s1, scheme))
    const key = createHmac('sha256', handshakeKeys.serverFull).update(clientDigest).digest()
    const signature = createHmac('sha256', key).update(s2.subarray(0, 1504)).digest()
    assert.deepEqual(s2.subarray(1504), signature)
  })
}

test('a C1 with a version but no valid digest gets the simple form', () => {
  const c1 = randomBytes(1536)
  c1.writeUInt32BE(0x09007c02, 4)
  const answer = answerHandshake(Buffer.concat([Buffer.of(3), c1]))
  assert.deepEqual(answer.subarray(1537), c1)
})

test('RTMPE (version 6) and a bad S0 are WK_RTMP_HANDSHAKE', () => {
  const c0c1 = clientHello()
  c0c1[0] = 6
  assert.throws(
    () => answerHandshake(c0c1),
    (e) => e instanceof ProtocolError && e.code === ErrorCodes.RTMP_HANDSHAKE,
  )
  const bad = Buffer.alloc(3073)
  bad[0] = 0x47 // 'G' of a GET
  assert.throws(
    () => clientAck(bad),
    (e) => e instanceof ProtocolError && e.code === ErrorCodes.RTMP_HANDSHAKE,
  )
})
