import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { run } from './chat-process.ts'

// Every numeric option is checked before anything starts: exit status 2 and a message naming the option.
const cases: [string[], RegExp][] = [
  [['bench', '--messages', '0'], /--messages <n>.*must be between 1 and 100000000, got 0/],
  [['bench', '--in-flight', '0'], /--in-flight <n>.*must be between 1 and 10000, got 0/],
  [['bench', '--requests', '1e3'], /--requests <n>.*expected a whole number, got "1e3"/],
  [['demo', '--messages', '-5'], /--messages <n>.*must be between 1 and 1000000, got -5/],
  [['demo', '--cuts', 'many'], /--cuts <n>.*expected a whole number/],
  [['serve', '--port', '70000'], /--port <port>.*must be between 0 and 65535, got 70000/],
  [['serve', '--heartbeat-interval', '0'], /--heartbeat-interval <ms>.*must be between 100 and 3600000/],
  [['serve', '--retention', '-1'], /--retention <ms>.*must be between 0/],
  [
    ['proxy', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:99999'],
    /--target <host:port>.*Invalid endpoint/,
  ],
  [
    ['proxy', '--listen', ':0', '--target', ':1', '--split', '0'],
    /--split <bytes>.*must be at least 1 bytes/,
  ],
  [['proxy', '--listen', ':0', '--target', ':1', '--bandwidth', 'fast'], /--bandwidth <rate>.*Invalid size/],
  [
    ['proxy', '--listen', ':0', '--target', ':1', '--reset-every', '0'],
    /--reset-every <duration>.*must be at least 10 ms/,
  ],
  [['chat', '--name', 'a\x1bb'], /--name <name>.*a nickname is 1-24 letters/],
  [['chat', '--name', 'ok', '--room', 'two words'], /--room <room>.*a room name is 1-32/],
]

describe('numeric and rule-checked CLI options', () => {
  for (const [args, message] of cases) {
    test(`wirekit ${JSON.stringify(args)} exits 2 with a clear message`, async () => {
      const { code, err } = await run(args)
      assert.equal(code, 2, err)
      assert.match(err, message)
    })
  }
})
