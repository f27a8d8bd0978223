import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ErrorCodes } from '../src/errors.ts'
import * as wirekit from '../src/index.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

test('README lists every error code in its one table, and no code that does not exist', () => {
  const documented = new Set([...readme.matchAll(/^\| `(WK_[A-Z_]+)` +\|/gm)].map((m) => m[1]))
  const codes = new Set<string>(Object.values(ErrorCodes))
  assert.deepEqual(
    [...codes].filter((c) => !documented.has(c)),
    [],
    'codes missing from README',
  )
  assert.deepEqual(
    [...documented].filter((c) => !codes.has(c!)),
    [],
    'README codes that do not exist',
  )
})

test('the package exports every name of the public contract', () => {
  const names = [
    'AsyncSocket',
    'AsyncServer',
    'UdpSocket',
    'lengthField',
    'delimited',
    'fixedLength',
    'MessageClient',
    'MessageServer',
    'MemoryAdapter',
    'RedisAdapter',
    'HttpSession',
    'Reachability',
    'WirekitError',
    'FaultProxy',
  ]
  for (const name of names) assert.equal(typeof (wirekit as Record<string, unknown>)[name], 'function', name)
})
