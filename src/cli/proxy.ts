// `wirekit proxy`: the FaultProxy from the command line. Faults come from flags and can be changed
// while it runs by typing commands on stdin: `latency 100`, `jitter 20`, `bandwidth 64k`, `split 1`,
// `blackhole`, `unblackhole`, `reset`, `clear`, `stats`.

import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { type FaultFlags, FaultProxy, parseFaults, parseHostPort } from '../proxy/index.ts'

export type ProxyOptions = FaultFlags & { listen: string; target: string }

export async function proxy(options: ProxyOptions): Promise<void> {
  const { listen, target, ...flags } = options
  const proxy = await FaultProxy.start({
    listen: parseHostPort(listen),
    target: parseHostPort(target),
    ...parseFaults(flags),
  })
  const { host, port } = proxy.address
  const shown =
    Object.entries(flags)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || 'none'
  process.stdout.write(`wirekit proxy ${host}:${port} -> ${target}  faults: ${shown}\n`)
  process.stdout.write(
    'commands: latency <ms> | jitter <ms> | bandwidth <rate> | split <bytes> | blackhole | unblackhole | reset | clear | stats\n',
  )

  const input = createInterface({ input: process.stdin, terminal: false })
  input.on('line', (line) => {
    try {
      process.stdout.write(`${command(proxy, line.trim())}\n`)
    } catch (error) {
      process.stdout.write(`error: ${(error as Error).message}\n`)
    }
  })
  // Runs until interrupted; the end of stdin only ends the commands (the proxy may run with stdin closed).
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')])
  input.close()
  await proxy.close()
}

function command(proxy: FaultProxy, line: string): string {
  const [name = '', value = ''] = line.split(/\s+/)
  switch (name) {
    case '':
      return ''
    case 'latency':
    case 'jitter':
    case 'bandwidth':
    case 'split':
      proxy.set(parseFaults({ [name]: value }))
      return `${name} = ${value}`
    case 'blackhole':
    case 'unblackhole':
      proxy.set({ blackhole: name === 'blackhole' })
      return name === 'blackhole' ? 'blackholing' : 'forwarding'
    case 'reset':
      return `reset ${proxy.resetAll()} connection(s)`
    case 'clear':
      proxy.clear()
      return 'no faults'
    case 'stats':
      return JSON.stringify(proxy.stats)
    default:
      return `unknown command "${name}"`
  }
}
