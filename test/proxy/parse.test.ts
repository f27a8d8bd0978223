import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InvalidArgumentError } from '../../src/errors.ts'
import { parseBytes, parseDuration, parseFaults, parseHostPort } from '../../src/proxy/index.ts'

describe('proxy option parsers', () => {
  test('parseDuration reads bare milliseconds and ms, s, m, h units', () => {
    assert.equal(parseDuration('50'), 50)
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('2s'), 2000)
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('1m'), 60_000)
    assert.equal(parseDuration('1H'), 3_600_000)
    assert.equal(parseDuration(25), 25)
  })

  test('parseBytes reads binary units and an optional /s', () => {
    assert.equal(parseBytes('512'), 512)
    assert.equal(parseBytes('64k'), 65_536)
    assert.equal(parseBytes('64KiB'), 65_536)
    assert.equal(parseBytes('1.5m'), 1_572_864)
    assert.equal(parseBytes('2mb/s'), 2 * 1024 * 1024)
    assert.equal(parseBytes('1g'), 1024 ** 3)
  })

  test('parseDuration and parseBytes refuse negative, empty and unknown text', () => {
    for (const bad of ['', '-1', 'abc', '5 fortnights', '1e3', '2ss']) {
      assert.throws(() => parseDuration(bad), InvalidArgumentError, bad)
      assert.throws(() => parseBytes(bad), InvalidArgumentError, bad)
    }
    assert.throws(() => parseDuration(-5), InvalidArgumentError)
  })

  test('parseHostPort reads host:port, [ipv6]:port, :port and port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 })
    assert.deepEqual(parseHostPort('localhost:80'), { host: 'localhost', port: 80 })
    assert.deepEqual(parseHostPort('[::1]:9000'), { host: '::1', port: 9000 })
    assert.deepEqual(parseHostPort(':9000'), { host: '127.0.0.1', port: 9000 })
    assert.deepEqual(parseHostPort('9000'), { host: '127.0.0.1', port: 9000 })
    assert.deepEqual(parseHostPort('9000', '0.0.0.0'), { host: '0.0.0.0', port: 9000 })
  })

  test('parseHostPort refuses missing or out-of-range ports and bare IPv6', () => {
    for (const bad of ['', 'localhost', 'host:', 'host:70000', '::1:80', 'a:b:c', '[::1]']) {
      assert.throws(() => parseHostPort(bad), InvalidArgumentError, bad)
    }
  })

  test('parseFaults turns CLI flags into faults and leaves absent flags out', () => {
    assert.deepEqual(
      parseFaults({
        latency: '50',
        jitter: '20',
        bandwidth: '64k',
        split: '1',
        resetEvery: '2s',
        blackholeAfter: '5s',
      }),
      { latency: 50, jitter: 20, bandwidth: 65_536, split: 1, resetEvery: 2000, blackholeAfter: 5000 },
    )
    assert.deepEqual(parseFaults({}), {})
  })
})
