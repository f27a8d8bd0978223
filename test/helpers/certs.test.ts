import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { test } from 'node:test'
import { makeCerts } from './certs.ts'

test('makeCerts makes a CA-signed server certificate, an expired one and pins', () => {
  const certs = makeCerts()
  const ca = new X509Certificate(certs.ca)
  const server = new X509Certificate(certs.server.cert)
  assert.ok(server.verify(ca.publicKey), 'server certificate is signed by the CA')
  assert.ok(server.checkHost('localhost'))
  const expired = new X509Certificate(certs.expired.cert)
  assert.ok(new Date(expired.validTo).getTime() < Date.now(), 'expired certificate is expired')
  assert.equal(new X509Certificate(certs.wrongHost.cert).checkHost('localhost'), undefined)
  assert.match(certs.pinOf(certs.server.cert), /^sha256\/[A-Za-z0-9+/]{43}=$/)
  assert.notEqual(certs.pinOf(certs.server.cert), certs.pinOf(certs.selfSigned.cert))
})
