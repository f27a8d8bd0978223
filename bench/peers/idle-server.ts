// Server process of bench/messaging-idle.ts, started with --expose-gc: runs one server kind with
// heartbeats on, takes a memory baseline, and after the clients are connected and have sat idle
// through a few heartbeats, measures again. Only this process's memory is measured.
// Usage (by the benchmark only): idle-server.ts <kind> <heartbeatInterval> <heartbeatTimeout>
import { setTimeout as sleep } from 'node:timers/promises'
import { arg, fromParent, runChild, toParent } from './child.ts'
import { type Heartbeat, startSocketIo, startWs } from './servers.ts'
import { startWirekitIdleServer } from './wirekit-peers.ts'

type IdleServer = { port: number; connections: () => number }

async function start(kind: string, heartbeat: Heartbeat): Promise<IdleServer> {
  switch (kind) {
    case 'socket.io': {
      const running = await startSocketIo(heartbeat)
      return { port: running.port, connections: () => running.server.engine.clientsCount }
    }
    case 'ws': {
      const running = await startWs(heartbeat)
      return { port: running.port, connections: () => running.server.clients.size }
    }
    case 'wirekit':
      return startWirekitIdleServer(heartbeat)
    case 'wirekit-ws':
      return startWirekitIdleServer(heartbeat, 'ws')
    default:
      throw new Error(`unknown server kind ${kind}`)
  }
}

// Full collections until the heap stops shrinking, so the baseline and the sample compare alike.
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('idle-server.ts needs --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(50)
  }
  return process.memoryUsage()
}

runChild(async () => {
  const kind = arg(0, 'kind')
  const heartbeat = { interval: Number(arg(1, 'interval')), timeout: Number(arg(2, 'timeout')) }
  const server = await start(kind, heartbeat)
  const base = await settledMemory()
  toParent({ type: 'ready', port: server.port })

  const { count, idleMs, waitMs } = await fromParent<{
    type: string
    count: number
    idleMs: number
    waitMs: number
  }>('measure')
  const until = Date.now() + waitMs
  while (server.connections() < count && Date.now() < until) await sleep(100)
  await sleep(idleMs)
  const after = await settledMemory()
  const connections = server.connections()
  toParent({
    type: 'measured',
    connections,
    heap: after.heapUsed - base.heapUsed,
    external: after.external - base.external,
    rss: after.rss - base.rss,
  })
})
