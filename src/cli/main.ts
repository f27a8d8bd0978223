// The `wirekit` command: serve, chat, bench, get, proxy, demo, rtmp.
// Each command lives in its own module, loaded only when it runs, so `wirekit get` never loads the messaging stack.
import { Command, CommanderError } from 'commander'
import { isWirekitError } from '../errors.ts'
import { parseBytes, parseDuration, parseHostPort } from '../proxy/index.ts'
import { checked, integer, port, rule } from './args.ts'
import { checkName, checkRoom } from './chat-rules.ts'
import { rtmpCommand } from './rtmp.ts'

const HOUR_MS = 3_600_000

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

export function program(): Command {
  const cli = new Command('wirekit')
    .description(
      'Networking toolkit for long-lived connections: sockets, framing, exactly-once messaging, HTTP.',
    )
    .showHelpAfterError()
    // A usage error (unknown option, value out of range) exits 2, as the shells' own tools do.
    .exitOverride()

  cli
    .command('demo')
    .description(
      'start a server and clients on loopback, cut their connections mid-stream, prove nothing was lost',
    )
    .option('--messages <n>', 'messages each way (1-1000000)', integer(1, 1_000_000), 2000)
    .option('--cuts <n>', 'connection cuts during the stream (0-1000)', integer(0, 1000), 5)
    .action(async (opts) => {
      await (await import('./demo.ts')).demo(opts)
    })

  cli
    .command('serve')
    .description('run a chat server (rooms, nicknames) on MessageServer')
    .option('--port <port>', 'TCP port (0: any free port)', port, 9000)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--path <path>', 'also listen on a Unix socket')
    .option('--tls-cert <file>', 'TLS certificate (PEM); with --tls-key serves tls://')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--redis <url>', 'share rooms and sessions with other nodes through Redis')
    .option('--data <dir>', 'keep chat history in DIR/history.sqlite (survives restarts; else memory)')
    .option(
      '--http <[host:]port>',
      'HTTP: the browser chat at /, WebSocket clients at /ws ("off": none; admin routes only with --admin-token)',
      checked((value) => (value === 'off' ? value : parseHostPort(value))),
      '8080',
    )
    .option(
      '--admin-http <[host:]port>',
      'serve /metrics and the live /dashboard here (host defaults to 127.0.0.1)',
      checked(parseHostPort),
    )
    .option(
      '--admin-token <token>',
      'token for the admin routes (Authorization: Bearer); or set WIREKIT_ADMIN_TOKEN',
    )
    .option(
      '--heartbeat-interval <ms>',
      'ping after this much silence (100-3600000)',
      integer(100, HOUR_MS),
      5000,
    )
    .option(
      '--heartbeat-timeout <ms>',
      'then declare the link dead after this long (100-3600000)',
      integer(100, HOUR_MS),
      5000,
    )
    .option(
      '--retention <ms>',
      'keep a disconnected session this long (0-86400000)',
      integer(0, 24 * HOUR_MS),
      60_000,
    )
    .action(async (opts) => {
      await (await import('./serve.ts')).serve(opts)
    })

  cli
    .command('chat')
    .description('terminal chat client; survives server restarts without losing a line')
    .argument('[url]', 'server URL', 'tcp://127.0.0.1:9000')
    .requiredOption(
      '--name <name>',
      "your nickname (letters of any script, digits, spaces, _ . - ', up to 24)",
      rule(checkName),
    )
    .option('--room <room>', 'room to join (letters, digits, _ . -, up to 32)', rule(checkRoom), 'lobby')
    .option('--ca <file>', 'CA certificate (PEM) for tls:// servers')
    .action(async (url, opts) => {
      await (await import('./chat.ts')).chat(url, opts)
      // The user has left: a timer the session still holds (a rejoin request's timeout after a lost
      // session) must not keep the terminal waiting.
      process.exit()
    })

  cli
    .command('bench')
    .description('measure messaging throughput and request/response latency on loopback')
    .option('--messages <n>', 'one-way messages (1-100000000)', integer(1, 100_000_000), 200_000)
    .option('--requests <n>', 'requests (1-100000000)', integer(1, 100_000_000), 50_000)
    .option('--in-flight <n>', 'requests in flight (1-10000)', integer(1, 10_000), 64)
    .action(async (opts) => {
      await (await import('./bench.ts')).bench(opts)
    })

  cli
    .command('get')
    .description('HTTP GET: the body to stdout, or a download (-o) with progress, rate, ETA and --resume')
    .argument('<url>', 'URL to fetch; without a scheme: http:// for loopback, https:// otherwise')
    .option('-o, --output <file>', 'download to a file (via <file>.download, kept if interrupted)')
    .option('-c, --resume', 'continue <file>.download from an interrupted download (wget -c)')
    .option('-H, --header <line>', 'extra request header "Name: value" (repeatable)', collect)
    .option('--cache <store>', 'use a cache: memory or sqlite')
    .option('--cache-path <file>', 'SQLite cache file', '.wirekit-cache.sqlite')
    .option('--ca <file>', 'also trust this CA certificate (PEM)')
    .option('-k, --insecure', 'accept invalid certificates (local development only)')
    .option('--timeout <ms>', 'deadline until the response headers, ms (default 30000)')
    .option('--retries <n>', 'retries of a failed attempt (default 2)')
    .option('--max-redirects <n>', 'redirects followed (default 5)')
    .option('--progress', 'draw the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'never draw the progress bar')
    .action(async (url, opts) => (await import('./get.ts')).get(url, opts))

  cli
    .command('proxy')
    .description('TCP fault proxy: latency, jitter, bandwidth, 1-byte splits, resets, blackholes')
    .requiredOption('--listen <host:port>', 'where the proxy listens', checked(parseHostPort))
    .requiredOption('--target <host:port>', 'where it forwards', checked(parseHostPort))
    .option(
      '--latency <ms>',
      'added latency per chunk, ms',
      checked(parseDuration, { max: HOUR_MS, unit: 'ms' }),
    )
    .option('--jitter <ms>', 'latency jitter, ms', checked(parseDuration, { max: HOUR_MS, unit: 'ms' }))
    .option(
      '--bandwidth <rate>',
      'bytes per second, e.g. 64k, 1m',
      checked(parseBytes, { min: 1, unit: 'bytes/s' }),
    )
    .option(
      '--split <bytes>',
      'write in segments of this many bytes',
      checked(parseBytes, { min: 1, unit: 'bytes' }),
    )
    .option(
      '--reset-every <duration>',
      'reset all connections this often, e.g. 2s',
      checked(parseDuration, { min: 10, unit: 'ms' }),
    )
    .option(
      '--blackhole-after <duration>',
      'stop forwarding (silently) after this long, e.g. 5s',
      checked(parseDuration, { max: 24 * HOUR_MS, unit: 'ms' }),
    )
    .action(async (opts) => (await import('./proxy.ts')).proxy(opts))

  cli.addCommand(rtmpCommand())
  return cli
}

/**
 * Runs the CLI. Errors print as `wirekit: <message> (<code>)` and exit 1, never as a stack trace; usage
 * errors (commander has printed them) exit 2.
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`wirekit: ${message}${isWirekitError(error) ? ` (${error.code})` : ''}\n`)
    process.exitCode = 1
  }
}
