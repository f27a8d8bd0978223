// The page side of bench/browser-messaging.ts, bundled by esbuild and run by Chromium: asks the benchmark
// for its next step over plain HTTP (no DevTools attached: DevTools reports every WebSocket frame, which
// would be measured too), connects one client at a time, sends or receives the 64-byte messages and
// reports the page's own clock readings. Only what the steps need; the benchmark decides everything.

// biome-ignore lint/suspicious/noExplicitAny: the clients are loaded by URL at run time, untyped
type Client = any
type Step =
  | { type: 'connect'; peer: string; url: string }
  | { type: 'send'; peer: string; n: number; window: number; burst: number; highWater: number; batch: number }
  | { type: 'expect'; n: number }
  | { type: 'await' }
  | { type: 'stats' }
  | { type: 'close'; peer: string }
  | { type: 'done' }

const JSON_OVERHEAD = '{"i":,"t":""}'.length
const pads: string[] = []
/** The same message as bench/peers/payload.ts jsonMessage(): its JSON is exactly 64 bytes. */
function message(i: number): { i: number; t: string } {
  const digits = String(i).length
  pads[digits] ??= 'x'.repeat(64 - JSON_OVERHEAD - digits)
  return { i, t: pads[digits]! }
}

const wallNow = (): number => performance.timeOrigin + performance.now()

// Every WebSocket.send on the page is counted and timed (main-thread time inside the native call), so
// a step can say how many WebSocket messages each message cost and what the sends took.
const sendStats = { calls: 0, ms: 0 }
const nativeSend = WebSocket.prototype.send
WebSocket.prototype.send = function send(this: WebSocket, data: Parameters<WebSocket['send']>[0]): void {
  const at = performance.now()
  nativeSend.call(this, data)
  sendStats.ms += performance.now() - at
  sendStats.calls++
}
function takeSendStats(): { sendCalls: number; sendMs: number } {
  const taken = { sendCalls: sendStats.calls, sendMs: sendStats.ms }
  sendStats.calls = 0
  sendStats.ms = 0
  return taken
}

/** A yield to the event loop that is not clamped like nested setTimeout(0). */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel()
    // The browser's MessagePort (Node's types describe worker_threads' one).
    const port = channel.port1 as unknown as { onmessage: (() => void) | null; close(): void }
    port.onmessage = () => {
      port.close()
      resolve()
    }
    channel.port2.postMessage(0)
  })
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// One stream's arrivals: every index once, in order; the page's clock at the last one.
let next = 0
let target = -1
let bad = ''
let lastAt = 0
let arrived: () => void = () => {}
let arrival: Promise<void> = Promise.resolve()
function arrive(msg: { i: number }): void {
  if (msg.i !== next && bad === '') bad = `message ${msg.i} arrived where ${next} was due`
  next++
  if (next === target) {
    lastAt = wallNow()
    arrived()
  }
}

const clients = new Map<string, Client>()

async function connect(peer: string, url: string): Promise<void> {
  if (peer.startsWith('wirekit')) {
    const bundle = '/wirekit-client.js'
    const { MessageClient } = await import(bundle)
    const client = await MessageClient.connect(url, {
      reconnect: false,
      outbox: { maxMessages: 50_000 },
      batch: peer === 'wirekit',
    })
    client.on('m', arrive)
    clients.set(peer, client)
  } else if (peer === 'socket.io') {
    const bundle = '/socket.io.esm.min.js'
    const { io } = await import(bundle)
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true })
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('connect_error', reject)
    })
    socket.on('m', arrive)
    clients.set(peer, socket)
  } else {
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => {
      ws.onopen = resolve
      ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`))
    })
    // The batched reference sends arrays of messages, the plain one single messages.
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data as string) as { i: number } | { i: number }[]
      if (Array.isArray(data)) for (const msg of data) arrive(msg)
      else arrive(data)
    }
    clients.set(peer, ws)
  }
}

/** Waits while a WebSocket holds more than `highWater` bytes, as a producer honouring backpressure does. */
async function drained(ws: { bufferedAmount: number } | undefined, highWater: number): Promise<void> {
  while (ws !== undefined && ws.bufferedAmount > highWater) await sleep(1)
}

async function send(step: Extract<Step, { type: 'send' }>): Promise<{ started: number }> {
  const client = clients.get(step.peer)
  takeSendStats()
  const started = wallNow()
  if (step.peer.startsWith('wirekit')) {
    // A window of emits awaiting their ack, refilled by halves, as bench/peers/wirekit-peers.ts does.
    let inFlight = 0
    let wake: (() => void) | undefined
    let failure: unknown
    const settled = () => {
      inFlight--
      if (wake && inFlight <= step.window / 2) {
        wake()
        wake = undefined
      }
    }
    for (let i = 0; i < step.n; i++) {
      if (inFlight >= step.window) await new Promise<void>((resolve) => (wake = resolve))
      if (failure) throw failure
      inFlight++
      client.emit('m', message(i)).then(settled, (error: unknown) => {
        failure ??= error
        settled()
      })
    }
  } else if (step.peer === 'WebSocket batched') {
    const ws = clients.get(step.peer)
    for (let i = 0; i < step.n; i += step.batch) {
      const batch = []
      for (let j = i; j < Math.min(step.n, i + step.batch); j++) batch.push(message(j))
      ws.send(JSON.stringify(batch))
      if ((i / step.batch) % 16 === 15) {
        await yieldNow()
        await drained(ws, step.highWater)
      }
    }
  } else {
    const isSocketIo = step.peer === 'socket.io'
    for (let i = 0; i < step.n; i++) {
      if (isSocketIo) client.emit('m', message(i))
      else client.send(JSON.stringify(message(i)))
      if (i % step.burst === step.burst - 1) {
        // engine.io writes its buffer on a later task: let it, then look at the WebSocket.
        await yieldNow()
        await drained(isSocketIo ? client.io.engine.transport.ws : client, step.highWater)
      }
    }
  }
  return { started }
}

async function run(step: Step): Promise<unknown> {
  switch (step.type) {
    case 'connect':
      await connect(step.peer, step.url)
      return {}
    case 'send':
      return send(step)
    case 'stats':
      return takeSendStats()
    case 'expect':
      takeSendStats()
      next = 0
      target = step.n
      bad = ''
      arrival = new Promise((resolve) => (arrived = resolve))
      return {}
    case 'await':
      await arrival
      return { lastAt, bad }
    case 'close': {
      const client = clients.get(step.peer)
      clients.delete(step.peer)
      if (step.peer.startsWith('wirekit')) await client.close()
      else if (step.peer === 'socket.io') client.disconnect()
      else client.close()
      return {}
    }
    default:
      return {}
  }
}

let report: unknown = { type: 'hello', userAgent: navigator.userAgent }
for (;;) {
  const response = await fetch('/next', { method: 'POST', body: JSON.stringify(report) })
  const step = (await response.json()) as Step
  if (step.type === 'done') break
  try {
    report = { ok: await run(step) }
  } catch (error) {
    report = { error: error instanceof Error ? error.message : String(error) }
  }
}
