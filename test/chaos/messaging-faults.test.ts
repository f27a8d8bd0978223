// Exactly once, in order, whatever the network does: a numbered stream each way between MessageClient
// and MessageServer through a FaultProxy that resets, splits, delays, throttles and blackholes.
// Each scenario prints one summary line; RELIABILITY.md records them. WIREKIT_CHAOS=long: 100k each way.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  format,
  LONG,
  messageCount,
  type Rig,
  sleep,
  startRig,
  streamBothWays,
  type Tally,
  tally,
  waitFor,
} from './stream-harness.ts'

const N = messageCount()
// One write per byte costs a syscall each: 5k each way keeps CI near 10 s on a loaded 2-core machine.
const SPLIT_N = messageCount(5_000)
const TIMEOUT = LONG ? 900_000 : 90_000

/** Asserts zero lost, zero duplicated, in order, both ways, and prints the scenario's summary line. */
function report(name: string, rig: Rig, n: number, extra: string): void {
  const up: Tally = tally(n, rig.atServer)
  const down: Tally = tally(n, rig.atClient)
  const stats = rig.proxy.stats
  console.log(
    `[chaos] ${name}: client→server ${format(up)} | server→client ${format(down)} | ` +
      `resets ${stats.resets} connections ${stats.totalConnections} resumes ${rig.events.resumed} ` +
      `sessionLost ${rig.events.sessionLost}${extra ? ` | ${extra}` : ''}`,
  )
  for (const [direction, t] of [
    ['client→server', up],
    ['server→client', down],
  ] as const) {
    assert.equal(t.lost, 0, `${direction}: lost`)
    assert.equal(t.duplicates, 0, `${direction}: duplicated`)
    assert.equal(t.outOfOrder, 0, `${direction}: out of order`)
    assert.equal(t.received, n, `${direction}: received`)
  }
  assert.equal(rig.events.sessionLost, 0, 'the session was lost')
}

/** Resets every connection after a random amount of progress (1-2× `every` messages): time-independent, so
 * every reset cuts a stream in full flight whatever the machine's speed. */
function resetOnProgress(r: Rig, every: number): { stop(): Promise<void> } {
  // Checked on every delivery, synchronously: the cut lands exactly where the stream is, however fast
  // loopback makes it (a polling loop sees only a handful of moments in a stream of a few hundred ms).
  let progress = 0
  let target = every + Math.floor(Math.random() * every)
  const onMessage = () => {
    if (++progress < target || !r.client.connected) return
    target = progress + every + Math.floor(Math.random() * every)
    r.proxy.resetAll()
  }
  r.peer.on('c', onMessage)
  r.client.on('s', onMessage)
  return {
    async stop() {
      r.peer.off('c', onMessage)
      r.client.off('s', onMessage)
    },
  }
}

describe('messaging through a fault proxy: zero lost, zero duplicated, in order', () => {
  const rigs: Rig[] = []
  after(async () => {
    for (const rig of rigs) await rig.close()
  })

  async function rig(options?: Parameters<typeof startRig>[0]): Promise<Rig> {
    const r = await startRig(options)
    rigs.push(r)
    return r
  }

  test(`${N} messages each way survive resets at random moments`, { timeout: TIMEOUT }, async () => {
    const r = await rig()
    const resetter = resetOnProgress(r, Math.max(50, Math.floor(N / 60)))
    try {
      await streamBothWays(r, N)
    } finally {
      await resetter.stop()
    }
    assert.ok(r.proxy.stats.resets >= 10, `only ${r.proxy.stats.resets} resets happened`)
    assert.ok(r.events.resumed >= 10, `only ${r.events.resumed} sessions resumed after a cut`)
    report('resets at random moments (progress-driven resetAll)', r, N, '')
  })

  test(`${N} messages each way survive every fault at once`, { timeout: TIMEOUT }, async () => {
    const r = await rig()
    r.proxy.set({ latency: 3, jitter: 3, split: 7 })
    const resetter = resetOnProgress(r, Math.max(50, Math.floor(N / 20)))
    try {
      await streamBothWays(r, N)
    } finally {
      await resetter.stop()
    }
    assert.ok(r.proxy.stats.resets >= 3, `only ${r.proxy.stats.resets} resets happened`)
    report('latency 3±3 ms + 7-byte splits + random resets', r, N, '')
  })

  test(`${N} messages each way survive the proxy's periodic resetEvery`, { timeout: TIMEOUT }, async () => {
    const r = await rig()
    // A little latency slows the stream enough on loopback for the timer to cut it many times.
    const every = 15 + Math.floor(Math.random() * 20)
    r.proxy.set({ resetEvery: every, latency: 5 })
    try {
      await streamBothWays(r, N)
    } finally {
      r.proxy.set({ resetEvery: 0 })
    }
    assert.ok(r.proxy.stats.resets >= 5, `only ${r.proxy.stats.resets} resets happened`)
    report(`resetEvery ${every} ms + latency 5 ms`, r, N, '')
  })

  test(`${SPLIT_N} messages each way arrive intact through 1-byte segments`, {
    timeout: TIMEOUT,
  }, async () => {
    const r = await rig()
    r.proxy.set({ split: 1 })
    await streamBothWays(r, SPLIT_N)
    report(
      '1-byte splits',
      r,
      SPLIT_N,
      `bytes up ${r.proxy.stats.bytesUpstream} down ${r.proxy.stats.bytesDownstream}`,
    )
  })

  test(`${N} messages each way arrive in order under latency and jitter`, { timeout: TIMEOUT }, async () => {
    const r = await rig()
    r.proxy.set({ latency: 20, jitter: 15 })
    await streamBothWays(r, N)
    report('latency 20 ms ± 15 ms', r, N, '')
  })

  test(`${N} messages each way arrive under a bandwidth throttle`, { timeout: TIMEOUT }, async () => {
    const r = await rig()
    const bandwidth = 128 * 1024
    r.proxy.set({ bandwidth })
    const started = Date.now()
    await streamBothWays(r, N)
    const seconds = (Date.now() - started) / 1000
    const bytes = Math.max(r.proxy.stats.bytesUpstream, r.proxy.stats.bytesDownstream)
    // The throttle really applied: the busier direction cannot have beaten it by more than a burst.
    assert.ok(
      bytes / seconds < bandwidth * 1.5,
      `${Math.round(bytes / seconds)} B/s through a ${bandwidth} B/s cap`,
    )
    report('bandwidth 128 KiB/s', r, N, `${seconds.toFixed(1)} s`)
  })

  test(`${N} messages each way survive blackholes that only the heartbeat can detect`, {
    timeout: TIMEOUT,
  }, async () => {
    const r = await rig({ server: { heartbeat: { interval: 150, timeout: 250 } }, connectTimeout: 600 })
    let streaming = true
    let blackholes = 0
    let detectedIn = 0
    const saboteur = (async () => {
      const holes = LONG ? 10 : 2
      for (let k = 1; k <= holes && streaming; k++) {
        // Mid-stream by construction: at k/(holes+1) of the total progress.
        const target = Math.floor((2 * N * k) / (holes + 1))
        await waitFor(() => !streaming || r.atServer.length + r.atClient.length >= target, 60_000, 'progress')
        if (!streaming) break
        await waitFor(() => r.client.connected, 10_000, 'the session to be connected')
        const reconnectingBefore = r.events.reconnecting
        const resumedBefore = r.events.resumed
        const started = Date.now()
        r.proxy.set({ blackhole: true })
        blackholes++
        // Nothing closes the connection: only a heartbeat timeout can tell the client its peer is gone.
        await waitFor(
          () => r.events.reconnecting > reconnectingBefore,
          10_000,
          'the heartbeat to detect the blackhole',
        )
        detectedIn = Math.max(detectedIn, Date.now() - started)
        await sleep(200)
        r.proxy.set({ blackhole: false })
        await waitFor(
          () => r.events.resumed > resumedBefore,
          10_000,
          'the session to resume after the blackhole',
        )
      }
    })()
    try {
      await Promise.all([streamBothWays(r, N), saboteur])
    } finally {
      streaming = false
      r.proxy.set({ blackhole: false })
    }
    assert.equal(blackholes, LONG ? 10 : 2)
    // interval + timeout is 400 ms; allow a loaded machine generous slack, but not the connect timeout of a hang.
    assert.ok(detectedIn < 5000, `the heartbeat took ${detectedIn} ms to notice a blackhole`)
    report('blackholes', r, N, `${blackholes} blackholes, slowest detection ${detectedIn} ms`)
  })
})
