import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { ChatLine } from '../../src/cli/serve.ts'
import { MessageClient } from '../../src/messaging/index.ts'
import { chatServerFor } from './chat-process.ts'

// The chat in a real terminal: tmux gives it a pseudo-terminal, and capture-pane shows what a user sees.
const bin = new URL('../../bin/wirekit.js', import.meta.url).pathname
const socket = `wirekit-test-${process.pid}`
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
const screen = () => tmux('capture-pane', '-p', '-t', 'chat')
const exitFile = join(mkdtempSync(join(tmpdir(), 'wirekit-tty-')), 'status')

async function until(predicate: (text: string) => boolean, what: string, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const text = screen()
    if (predicate(text)) return text
    if (Date.now() > deadline) throw new Error(`the screen never showed ${what}:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const cleanup: (() => unknown)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn()
})

test('in a terminal the prompt shows the connection state, a sent line shows once, and pending lines are marked', async () => {
  const first = await chatServerFor()
  tmux(
    'new-session',
    '-d',
    '-s',
    'chat',
    '-x',
    '120',
    '-y',
    '30',
    // The shell records how the chat ended: tmux's own exit status of a pane was sometimes never filled
    // in on a loaded machine (the pane dead, its status empty) although the chat had exited.
    'sh',
    '-c',
    `"$0" "$@"; echo $? > ${exitFile}`,
    process.execPath,
    bin,
    'chat',
    first.url,
    '--name',
    'alice',
  )
  cleanup.push(() => tmux('kill-server'))
  await until((s) => s.includes('[alice@#lobby connected]>'), 'the connected prompt')
  const bob = await MessageClient.connect(first.url, { credentials: { name: 'bob' } })
  cleanup.push(() => bob.close())
  await bob.request('join', 'lobby')
  const heard = new Promise<ChatLine>((resolve) => bob.on('message', resolve))
  tmux('send-keys', '-t', 'chat', 'hello from a tty', 'Enter')
  assert.equal((await heard).text, 'hello from a tty')
  const shown = await until((s) => s.includes('<alice> hello from a tty'), 'the line')
  assert.equal(shown.split('hello from a tty').length - 1, 1, `the line shows once:\n${shown}`)
  await bob.close()
  await first.server.close()
  await until((s) => s.includes('reconnecting]>'), 'the reconnecting prompt')
  tmux('send-keys', '-t', 'chat', 'typed while away', 'Enter')
  await until((s) => s.includes('* pending: [#lobby] typed while away'), 'the pending mark')
  const second = await chatServerFor({ port: first.port })
  cleanup.push(() => second.server.close())
  await until((s) => s.includes('* delivered: [#lobby] typed while away'), 'the delivered mark')
  await until((s) => s.includes('[alice@#lobby connected]>'), 'the prompt connected again')
  // Ctrl-C with nothing pending quits at once, with status 0 (the pane stays to show how it ended).
  tmux('set-option', '-t', 'chat', 'remain-on-exit', 'on')
  tmux('send-keys', '-t', 'chat', 'C-c')
  const status = () => (existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : '')
  await until(() => status() !== '', 'the chat to exit')
  assert.equal(status(), '0')
})
