// `wirekit chat`: a terminal chat client for `wirekit serve`. It shows its connection state, keeps
// every line typed while the server is away in the outbox, and when a session cannot be resumed
// (the server restarted) it rejoins and sends again the lines the old server never acknowledged.

import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { ClientState, UnacknowledgedMessage } from '../messaging/index.ts'
import { MessageClient } from '../messaging/index.ts'
import type { ChatLine } from './serve.ts'

export type ChatOptions = { name: string; room: string; ca?: string }

export async function chat(url: string, options: ChatOptions): Promise<void> {
  const { name, room } = options
  const client = await MessageClient.connect(url, {
    credentials: { name },
    reconnect: { initialDelay: 200, maxDelay: 5000 },
    tls: options.ca ? { ca: readFileSync(options.ca) } : undefined,
  })
  const tty = process.stdin.isTTY === true
  const input = createInterface({ input: process.stdin, output: process.stdout, terminal: tty })
  // The prompt shows the connection state; piped input (scripts, tests) gets no prompts.
  const prompt = () => {
    if (tty) input.prompt(true)
  }
  const print = (line: string) => {
    if (tty) process.stdout.write('\r\x1b[K')
    process.stdout.write(`${line}\n`)
    prompt()
  }
  const setPrompt = (state: ClientState) => input.setPrompt(`[${name}@${room} ${state}]> `)
  setPrompt(client.state)

  client.on('message', (m: ChatLine) => print(`${time(m.at)} <${m.from}> ${m.text}`))
  client.on('system', (m: { text: string; at: number }) => print(`${time(m.at)} * ${m.text}`))
  let shown: ClientState = client.state
  client.on('state', (state: ClientState) => {
    setPrompt(state)
    // Say "reconnecting" once per outage, not once per attempt.
    if (state === 'reconnecting' && shown === 'connected') print('* connection lost; reconnecting…')
    if (state === 'connected' || state === 'reconnecting') shown = state
  })
  client.on('resumed', () => print('* reconnected: session resumed, nothing lost'))
  client.on('sessionLost', (unacknowledged: UnacknowledgedMessage[]) => {
    const lines = unacknowledged.filter((m) => m.kind === 'event' && m.name === 'say')
    print(`* the server lost our session; rejoining and sending ${lines.length} unacknowledged line(s) again`)
    void client.emit('join', room).catch(() => {})
    for (const m of lines) void client.emit('say', m.data).catch(() => {})
  })

  await client.emit('join', room)
  const who = await client.request<string[]>('who', room, { timeout: 5000 })
  print(`* connected to ${url} as ${name}; in #${room}: ${who.join(', ')}`)
  prompt()
  input.on('line', (text) => {
    const line = text.trim()
    if (line === '/quit') return input.close()
    if (line === '/who') {
      client.request<string[]>('who', room, { timeout: 5000 }).then(
        (names) => print(`* in #${room}: ${names.join(', ')}`),
        (error: Error) => print(`* who failed: ${error.message}`),
      )
    } else if (line.length > 0) {
      // Resolves when the server has the line; while disconnected it waits in the outbox.
      client.emit('say', { room, text: line }).catch((error: Error) => print(`* not sent: ${error.message}`))
    }
    prompt()
  })
  await once(input, 'close')
  await client.close()
}

function time(at: number): string {
  return new Date(at).toTimeString().slice(0, 5)
}
