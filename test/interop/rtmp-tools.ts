// Shared by the RTMP interop tests: a source made by ffmpeg at test time, child processes with
// deadlines, and packet lists (ffmpeg's framemd5) to compare what went in with what came out.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const GOP = 25

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `wirekit-${prefix}-`))
}

export type Run = { code: number | null; stdout: string; stderr: string }

/** Runs a program to its end (killed after `timeout` ms). */
export function run(cmd: string, args: string[], timeout = 30_000): Promise<Run> {
  return finished(start(cmd, args), timeout)
}

export function start(cmd: string, args: string[]): ChildProcess {
  return spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
}

export function finished(child: ChildProcess, timeout = 30_000): Promise<Run> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (stdout += t))
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-20_000)))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** An FLV of `seconds` of testsrc2 + sine, H.264 (a keyframe every GOP frames at 25 fps, no B-frames) and AAC. */
export async function makeSource(dir: string, seconds = 4): Promise<string> {
  const file = join(dir, 'source.flv')
  const r = await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'],
    ...['-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'],
    ...['-g', String(GOP), '-keyint_min', String(GOP), '-sc_threshold', '0', '-bf', '0'],
    ...['-c:a', 'aac', '-b:a', '64k', '-f', 'flv', file],
  ])
  if (r.code !== 0) throw new Error(`ffmpeg could not make the source: ${r.stderr}`)
  return file
}

/** Packet hashes per stream index (0 video, 1 audio in our FLVs), from `ffmpeg -c copy -f framemd5`. */
export async function packets(input: string): Promise<Map<number, string[]>> {
  const r = await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    input,
    '-map',
    '0',
    '-c',
    'copy',
    '-f',
    'framemd5',
    '-',
  ])
  if (r.code !== 0) throw new Error(`framemd5 of ${input} failed: ${r.stderr}`)
  const streams = new Map<number, string[]>()
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue
    const fields = line.split(',').map((f) => f.trim())
    const index = Number(fields[0])
    // stream, dts, pts, duration, size, hash: timestamps may be shifted by a relay, size and hash not.
    const list = streams.get(index) ?? []
    list.push(`${fields[4]}:${fields[5]}`)
    streams.set(index, list)
  }
  return streams
}

/** Codec names of the streams ffprobe finds. */
export async function probeCodecs(input: string): Promise<string[]> {
  const r = await run('ffprobe', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-show_entries',
    'stream=codec_name',
    '-of',
    'csv=p=0',
    input,
  ])
  if (r.code !== 0) throw new Error(`ffprobe ${input} failed: ${r.stderr}`)
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .sort()
}

/**
 * Where `got` starts in `source`, after checking that `got` is exactly the source's last packets
 * (a player that joined late gets everything from its first packet to the end). Matched from the end:
 * audio of a sine repeats, so a packet's hash alone does not say where it is.
 */
export function offsetIn(source: string[], got: string[]): number {
  if (got.length === 0) throw new Error('no packets received')
  const at = source.length - got.length
  if (at < 0) throw new Error(`received ${got.length} packets, the source has ${source.length}`)
  for (let i = 0; i < got.length; i++)
    if (got[i] !== source[at + i])
      throw new Error(`packet ${i} received differs from source packet ${at + i}`)
  return at
}

/** Resolves when `predicate` holds, polling every 20 ms; rejects after `timeout`. */
export async function until(predicate: () => boolean, timeout = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
