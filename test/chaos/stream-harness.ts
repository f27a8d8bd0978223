// The chaos harness for messaging: MessageClient ↔ FaultProxy ↔ MessageServer on loopback, a numbered
// stream each way (client emits, server pushes), and a tally that tells lost, duplicated and out-of-order
// messages apart. Scale: WIREKIT_CHAOS=long for the long run, WIREKIT_CHAOS_MESSAGES=<n> to pick a count.
import {
  MessageClient,
  MessageServer,
  type MessageServerOptions,
  type Peer,
} from '../../src/messaging/index.ts'
import { FaultProxy } from '../../src/proxy/index.ts'

export const LONG = process.env.WIREKIT_CHAOS === 'long'

/** Messages each way per scenario: 10k in CI, 100k in the long run. */
export function messageCount(ci = 10_000, long = 100_000): number {
  const forced = Number(process.env.WIREKIT_CHAOS_MESSAGES)
  if (Number.isInteger(forced) && forced > 0) return forced
  return LONG ? long : ci
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 10 ms; rejects after `ms` with `what`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`)
    await sleep(10)
  }
}

/** What a receiver saw of a stream numbered 0..sent-1. */
export type Tally = { sent: number; received: number; lost: number; duplicates: number; outOfOrder: number }

export function tally(sent: number, seen: readonly number[]): Tally {
  const counts = new Uint32Array(sent)
  let duplicates = 0
  let outOfOrder = 0
  let previous = -1
  for (const value of seen) {
    if (!Number.isInteger(value) || value < 0 || value >= sent) {
      outOfOrder++ // a value never sent: count it as disorder, it can only fail the test
      continue
    }
    if (counts[value]++ > 0) duplicates++
    else if (value !== previous + 1) outOfOrder++
    if (value > previous) previous = value
  }
  let lost = 0
  for (const n of counts) if (n === 0) lost++
  return { sent, received: seen.length, lost, duplicates, outOfOrder }
}

export function format(t: Tally): string {
  return `sent ${t.sent} received ${t.received} lost ${t.lost} duplicates ${t.duplicates} out-of-order ${t.outOfOrder}`
}

/** A server behind a fault proxy, with one client connected through the proxy. */
export type Rig = {
  server: MessageServer
  proxy: FaultProxy
  client: MessageClient
  peer: Peer
  /** Numbers received by the server ('c' events) and by the client ('s' events). */
  atServer: number[]
  atClient: number[]
  events: { resumed: number; sessionLost: number; reconnecting: number; closeReasons: string[] }
  close(): Promise<void>
}

export type RigOptions = {
  server?: MessageServerOptions
  /** Client connect timeout (a blackholed HELLO must time out to retry). @default 2000 */
  connectTimeout?: number
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const server = new MessageServer({
    retention: 120_000,
    peerBuffer: { maxMessages: 200_000, maxBytes: 64 * 1024 * 1024 },
    ...options.server,
  })
  const address = (await server.listen({ port: 0, host: '127.0.0.1' })) as { port: number }
  const proxy = await FaultProxy.start({ target: { port: address.port } })
  const atServer: number[] = []
  const atClient: number[] = []
  const connected = new Promise<Peer>((resolve) => server.once('connection', resolve))
  const client = await MessageClient.connect(`tcp://127.0.0.1:${proxy.port}`, {
    reconnect: { initialDelay: 5, maxDelay: 100, factor: 2, jitter: 0.5 },
    connectTimeout: options.connectTimeout ?? 2000,
    outbox: { maxMessages: 200_000, maxBytes: 64 * 1024 * 1024 },
  })
  const peer = await connected
  peer.on('c', (i: number) => atServer.push(i))
  client.on('s', (i: number) => atClient.push(i))
  const events = { resumed: 0, sessionLost: 0, reconnecting: 0, closeReasons: [] as string[] }
  client.on('resumed', () => events.resumed++)
  client.on('sessionLost', () => events.sessionLost++)
  client.on('state', (state: string) => {
    if (state === 'reconnecting') events.reconnecting++
  })
  server.on('disconnect', (_peer: Peer, reason: { code?: string } | undefined) => {
    events.closeReasons.push(reason?.code ?? 'none')
  })
  return {
    server,
    proxy,
    client,
    peer,
    atServer,
    atClient,
    events,
    async close() {
      await client.close()
      await proxy.close()
      await server.close()
    },
  }
}

/**
 * Sends 0..count-1 with `send`, never more than `window` unacknowledged: the stream keeps going through
 * reconnects (sends wait in the outbox) without growing without bound.
 */
export async function produce(
  count: number,
  send: (i: number) => Promise<void>,
  window = 500,
): Promise<void> {
  const inFlight: Promise<void>[] = []
  for (let i = 0; i < count; i++) {
    inFlight.push(send(i))
    if (inFlight.length >= window) {
      await Promise.all(inFlight.splice(0, window / 2))
    }
  }
  await Promise.all(inFlight)
}

/** Both streams at once: client → server ('c') and server → client ('s'). */
export async function streamBothWays(rig: Rig, count: number): Promise<void> {
  await Promise.all([
    produce(count, (i) => rig.client.emit('c', i)),
    produce(count, (i) => rig.peer.emit('s', i)),
  ])
  await waitFor(
    () => rig.atServer.length >= count && rig.atClient.length >= count,
    30_000,
    'every message to arrive',
  )
}
