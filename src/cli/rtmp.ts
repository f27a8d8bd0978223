// `wirekit rtmp serve | push | pull`: an RTMP/HTTP-FLV server, an FLV pusher (file or stdin) and a
// puller to an FLV file, with progress. This module only declares the commands; the RTMP layer is
// loaded when one runs. Numeric arguments are checked before anything starts: a bad one exits 2.
import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { Command } from 'commander'

/** A bad command-line value: reported as `wirekit: …` with exit status 2 (a usage error). */
class UsageError extends Error {}

function integer(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`)
  return n
}

const port = (value: string | undefined, name: string) => integer(value, name, 0, 65_535)

function usage<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args)
    } catch (error) {
      if (!(error instanceof UsageError)) throw error
      process.stderr.write(`wirekit: ${error.message}\n`)
      process.exit(2)
    }
  }
}

function mbps(bytes: number, ms: number): string {
  return ms > 0 ? ((bytes * 8) / ms / 1000).toFixed(2) : '0.00'
}

/** One progress line, rewritten in place on a terminal, one line a second otherwise. */
function progressLine(): (text: string, final?: boolean) => void {
  let last = 0
  return (text, final = false) => {
    const now = Date.now()
    if (!final && now - last < (process.stderr.isTTY ? 200 : 1000)) return
    last = now
    process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${text}${final ? '\n' : ''}` : `${text}\n`)
  }
}

export function rtmpCommand(): Command {
  const rtmp = new Command('rtmp').description(
    'RTMP: a server with HTTP-FLV, push an FLV, pull a stream to FLV',
  )

  rtmp
    .command('serve')
    .description(
      'RTMP server (publish with OBS/ffmpeg, play with ffplay/VLC) and HTTP-FLV at /app/stream.flv',
    )
    .option('--port <port>', 'RTMP port', '1935')
    .option('--http <port>', 'HTTP-FLV port ("off" to disable)', '8000')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'TLS certificate (PEM): with --tls-key, RTMPS on --tls-port')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-port <port>', 'RTMPS port', '1936')
    .option(
      '--player-buffer <bytes>',
      'unsent bytes per player before it skips to a later keyframe',
      '4194304',
    )
    .action(
      usage(async (opts) => {
        const rtmpPort = port(opts.port, '--port')!
        const httpPort = opts.http === 'off' ? undefined : port(opts.http, '--http')
        const tlsPort = port(opts.tlsPort, '--tls-port')!
        const playerBufferBytes = integer(opts.playerBuffer, '--player-buffer', 1024, 2 ** 31)!
        if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey))
          throw new UsageError('--tls-cert and --tls-key go together')
        const { RtmpServer } = await import('../rtmp/index.ts')
        const server = new RtmpServer({ playerBufferBytes })
        const log = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`)
        server.on('publish', (s) =>
          log(`publish ${s.app}/${s.stream} from ${s.remoteAddress} (session ${s.id})`),
        )
        server.on('unpublish', (s) => log(`unpublish ${s.app}/${s.stream} (session ${s.id})`))
        server.on('play', (s) =>
          log(`play ${s.app}/${s.stream} over ${s.protocol} by ${s.remoteAddress} (session ${s.id})`),
        )
        server.on('stop', (s) =>
          log(`stop ${s.app}/${s.stream} (session ${s.id}, ${s.skippedFrames} frames skipped)`),
        )
        server.on('sessionError', (e, s) => log(`session ${s.id}: ${e.message} (${e.code})`))
        const host = opts.host as string
        const listening = await server.listen({ port: rtmpPort, host })
        process.stdout.write(`rtmp://${host}:${listening.port}/live/<key>\n`)
        if (opts.tlsCert) {
          const tls = { cert: readFileSync(opts.tlsCert, 'utf8'), key: readFileSync(opts.tlsKey, 'utf8') }
          const secure = await server.listen({ port: tlsPort, host, tls })
          process.stdout.write(`rtmps://${host}:${secure.port}/live/<key>\n`)
        }
        if (httpPort !== undefined) {
          const flv = await server.listenHttpFlv({ port: httpPort, host })
          process.stdout.write(`http://${host}:${flv.port}/live/<key>.flv\n`)
        }
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
        await server.close()
      }),
    )

  rtmp
    .command('push')
    .description('publish an FLV file (or - for stdin) to an RTMP URL, at the pace of its timestamps')
    .argument('<file>', 'FLV file, or - for stdin')
    .argument('<url>', 'rtmp://host[:port]/app/key')
    .option('--fast', 'send as fast as the network takes it instead of in real time')
    .option('--timeout <ms>', 'connect and reply timeout', '10000')
    .action(
      usage(async (file: string, url: string, opts) => {
        const timeout = integer(opts.timeout, '--timeout', 1, 3_600_000)!
        const { RtmpClient } = await import('../rtmp/index.ts')
        const source = file === '-' ? process.stdin : createReadStream(file)
        const publisher = await RtmpClient.publish(url, { timeout })
        const show = progressLine()
        const started = Date.now()
        const done = await publisher.push(source, {
          realtime: !opts.fast,
          onProgress: (p) =>
            show(
              `pushed ${(p.duration / 1000).toFixed(1)} s of media, ${p.tags} tags, ${mbps(p.bytes, Date.now() - started)} Mbps`,
            ),
        })
        await publisher.close()
        show(
          `pushed ${(done.duration / 1000).toFixed(1)} s of media, ${done.tags} tags, ${(done.bytes / 1e6).toFixed(2)} MB`,
          true,
        )
      }),
    )

  rtmp
    .command('pull')
    .description('play an RTMP stream into an FLV file (or - for stdout) until it ends')
    .argument('<url>', 'rtmp://host[:port]/app/key')
    .requiredOption('-o, --output <file>', 'FLV file to write, or - for stdout')
    .option('--duration <seconds>', 'stop after this many seconds of media')
    .option('--timeout <ms>', 'connect and reply timeout', '10000')
    .action(
      usage(async (url: string, opts) => {
        const timeout = integer(opts.timeout, '--timeout', 1, 3_600_000)!
        const limit = integer(opts.duration, '--duration', 1, 31_536_000)
        const { RtmpClient, encodeFlvTag, flvHeader } = await import('../rtmp/index.ts')
        const out: NodeJS.WritableStream =
          opts.output === '-' ? process.stdout : createWriteStream(opts.output)
        const player = await RtmpClient.play(url, { timeout })
        process.once('SIGINT', () => player.close())
        const show = progressLine()
        const started = Date.now()
        let first: number | undefined
        let duration = 0
        let bytes = 0
        out.write(flvHeader())
        for await (const tag of player.tags()) {
          first ??= tag.timestamp
          duration = Math.max(duration, tag.timestamp - first)
          bytes += tag.data.length
          if (!out.write(encodeFlvTag(tag.type, tag.timestamp, tag.data)))
            await new Promise<void>((resolve) => out.once('drain', () => resolve()))
          show(`pulled ${(duration / 1000).toFixed(1)} s, ${mbps(bytes, Date.now() - started)} Mbps`)
          if (limit !== undefined && duration >= limit * 1000) break
        }
        show(`pulled ${(duration / 1000).toFixed(1)} s, ${(bytes / 1e6).toFixed(2)} MB`, true)
        if (out !== process.stdout) await new Promise<void>((resolve) => out.end(() => resolve()))
      }),
    )
  return rtmp
}
