import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { browserBundle } from '../helpers/browser.ts'

const gz = (text: string | Buffer) => gzipSync(text, { level: 9 }).length

test('the browser bundle is at most 16 KB min+gzip, has no node: import and needs no Buffer', () => {
  const bundle = browserBundle()
  const ours = gz(bundle)
  const socketIo = gz(readFileSync('node_modules/socket.io-client/dist/socket.io.esm.min.js'))
  console.log(`dist/browser/client.js ${ours} B min+gzip; socket.io-client ESM ${socketIo} B (same run)`)
  assert.ok(ours <= 16 * 1024, `${ours} bytes`)
  assert.doesNotMatch(bundle, /from\s*["']node:|require\(["']node:/)
  assert.doesNotMatch(bundle, /\bBuffer\./)
})
