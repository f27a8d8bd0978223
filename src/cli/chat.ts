// `wirekit chat`: the terminal client for `wirekit serve`. Everything other people send is printed inert
// (src/cli/inert.ts), so no one can clear your screen or forge a server notice. What you type is never
// lost silently: lines typed (or piped) before the connection is up wait for it, a line the server has not
// stored within a second is shown as pending and then as delivered (a line is a 'say' request, answered
// once the server has stored it in the room's log), a dead link is reported as soon as the heartbeat
// declares it, and when a session cannot be resumed (the server restarted) the client rejoins its rooms
// and sends again the lines whose answer never came. Each line carries a random `ref`: the server stores
// a line sent twice once, and a line shown once is not shown again.
//
// Lines are read from each room's durable log (`client.subscribe(chat:<room>, { recover: true })`): after
// any outage, server restart included, the lines published while away arrive once each, in order, marked
// "(missed)", or the client says how many could not be recovered.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { ErrorCodes, isWirekitError } from '../errors.ts'
import type { ClientState, GapInfo, Subscription } from '../messaging/index.ts'
import { MessageClient } from '../messaging/index.ts'
import { checkLine, checkName, checkRoom, logRoom } from './chat-rules.ts'
import type { ChatLine, ChatNotice, RoomInfo } from './chat-server.ts'
import { inert } from './inert.ts'

export type ChatOptions = { name: string; room: string; ca?: string }

/** A line the server has not acknowledged for this long is shown as pending. */
const PENDING_AFTER_MS = 1000
const REQUEST_TIMEOUT_MS = 10_000
/** Lines from before joining shown on join. */
const EARLIER_LINES = 20
/** Lines remembered by (room, sender, ref) so one sent again is not shown twice. */
const SHOWN_REFS = 5000

const HELP = [
  'commands:',
  '  /join room     join a room and talk there (rooms: letters, digits, _ . -, up to 32)',
  '  /leave [room]  leave the current room (or the one named)',
  '  /rooms         list the rooms with people in them',
  '  /who [room]    who is connected in the current room (or the one named)',
  '  /nick name     change your nickname',
  '  /me action     say an action: "* you waves"',
  '  /quit          leave (waits for lines not yet delivered; Ctrl-C twice to force)',
  '  /help          this list',
  'a line starting with // is sent as text starting with /',
].join('\n')

type Said = { room: string; text: string; me?: boolean; ref: string }

export async function chat(url: string, options: ChatOptions): Promise<void> {
  const tty = process.stdin.isTTY === true
  const credentials = { name: options.name, token: randomBytes(16).toString('base64url') }
  // The room as the server names it (#Lobby is lobby): the key of `joined` and of the subscriptions.
  const checkedRoom = checkRoom(options.room)
  const firstRoom = checkedRoom.ok ? checkedRoom.value : options.room
  const joined = new Set<string>([firstRoom])
  let room: string | undefined = firstRoom
  let state: ClientState | 'starting' = 'starting'

  const input = createInterface({ input: process.stdin, output: process.stdout, terminal: tty })
  const prompt = () => {
    if (tty) input.prompt(true)
  }
  const print = (line: string) => {
    if (tty) process.stdout.write('\r\x1b[K')
    process.stdout.write(`${line}\n`)
    prompt()
  }
  const setPrompt = () => input.setPrompt(`[${inert(credentials.name)}${room ? `@#${room}` : ''} ${state}]> `)
  setPrompt()

  // Lines typed before the connection is up (or while a command runs) wait here, in order.
  const queue: string[] = []
  let inputEnded = false
  let closing = false
  let client: MessageClient | undefined
  let pending = 0
  /** Lines sent and not yet stored: what a lost session makes the client send again. */
  const unacknowledged = new Set<Said>()
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))

  const maybeFinish = () => {
    if (closing && pending === 0 && queue.length === 0) finish()
  }
  input.on('line', (text) => {
    if (tty) process.stdout.write('\x1b[1A\r\x1b[2K') // our own echo: the server's copy replaces it
    queue.push(text)
    void drain()
  })
  input.on('close', () => {
    inputEnded = true
    closing = true
    if (pending > 0 || queue.length > 0)
      process.stderr.write(`* input ended; waiting for ${pending + queue.length} line(s) to be delivered\n`)
    void drain()
    maybeFinish()
  })
  let interrupts = 0
  const onSigint = () => {
    closing = true // the user is leaving: not an error exit
    if (++interrupts > 1 || pending === 0) finish()
    else {
      print(`* ${pending} line(s) not yet delivered; waiting (Ctrl-C again to quit now)`)
      maybeFinish()
    }
  }
  const onSigterm = () => {
    closing = true
    finish()
  }
  process.on('SIGINT', onSigint)
  // In a terminal, readline takes Ctrl-C itself (without a listener it would just close the input).
  input.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)

  /**
   * Sends a line and keeps the user told: pending if not stored soon, delivered when the server says it
   * is. No deadline: the line waits across reconnects; a lost session sends it again (same ref).
   */
  const send = (said: Said, marked = false) => {
    const c = client!
    const preview = `[#${said.room}] ${said.me ? '/me ' : ''}${inert(said.text)}`
    pending++
    const mark = () => {
      if (!marked) print(`* pending: ${preview} (not yet stored by the server)`)
      marked = true
    }
    const timer = c.connected ? setTimeout(mark, PENDING_AFTER_MS) : undefined
    if (timer === undefined) mark()
    unacknowledged.add(said)
    let again = false
    c.request('say', said, { timeout: 0 })
      .then(
        () => {
          if (marked) print(`* delivered: ${preview}`)
        },
        (error: Error & { remoteMessage?: unknown }) => {
          // The old session may or may not have stored it: send it again, the server keeps one copy.
          if (isWirekitError(error, ErrorCodes.SESSION_LOST) && c.state !== 'closed') again = true
          else print(`* NOT delivered: ${preview}: ${inert(String(error.remoteMessage ?? error.message))}`)
        },
      )
      .finally(() => {
        clearTimeout(timer)
        unacknowledged.delete(said)
        pending--
        if (again) send(said, marked)
        else maybeFinish()
      })
  }

  const request = <T>(method: string, data?: unknown) =>
    client!.request<T>(method, data, { timeout: REQUEST_TIMEOUT_MS })

  const command = async (line: string): Promise<void> => {
    const [, verb = '', rest = ''] = /^\/(\S*)\s*(.*)$/s.exec(line) ?? []
    const arg = rest.trim()
    switch (verb.toLowerCase()) {
      case 'help':
        return print(HELP)
      case 'quit':
      case 'exit':
        closing = true
        input.close()
        return
      case 'join': {
        const checked = checkRoom(arg)
        if (!checked.ok) return print(`* cannot join "${inert(arg)}": ${checked.reason}`)
        const { room: joinedRoom, members } = await join(checked.value)
        joined.add(joinedRoom)
        room = joinedRoom
        setPrompt()
        print(`* now talking in #${inert(joinedRoom)}; here: ${members.map(inert).join(', ')}`)
        return showEarlier(joinedRoom)
      }
      case 'leave': {
        const target = arg || room
        if (target === undefined) return print('* you are in no room')
        const checked = checkRoom(target)
        if (!checked.ok) return print(`* cannot leave "${inert(target)}": ${checked.reason}`)
        await request('leave', checked.value)
        joined.delete(checked.value)
        const sub = subscriptions.get(checked.value)
        subscriptions.delete(checked.value)
        await sub?.unsubscribe().catch(() => {})
        if (room === checked.value) room = [...joined].at(-1)
        setPrompt()
        return print(
          `* left #${checked.value}; ${room ? `now talking in #${room}` : 'you are in no room: /join one'}`,
        )
      }
      case 'rooms': {
        const rooms = await request<RoomInfo[]>('rooms')
        return print(
          rooms.length === 0
            ? '* no rooms with people in them'
            : `* rooms: ${rooms.map((r) => `#${inert(r.room)} (${Number(r.members)})`).join(', ')}`,
        )
      }
      case 'who': {
        const target = arg || room
        if (target === undefined) return print('* you are in no room: /who room')
        const names = await request<string[]>('who', target)
        return print(`* in #${inert(target)}: ${names.map(inert).join(', ') || 'nobody'}`)
      }
      case 'nick': {
        const checked = checkName(arg)
        if (!checked.ok) return print(`* cannot take "${inert(arg)}": ${checked.reason}`)
        const { name } = await request<{ name: string }>('nick', checked.value)
        credentials.name = name // the next reconnect authenticates with the new name
        setPrompt()
        return print(`* you are now ${inert(name)}`)
      }
      case 'me':
        return say(arg, true)
      default:
        return print(
          `* unknown command /${inert(verb)}; /help lists the commands (start a line with // to send a /)`,
        )
    }
  }

  const say = (text: string, me = false) => {
    const checked = checkLine(text)
    if (!checked.ok) return print(`* not sent: ${checked.reason}`)
    if (room === undefined) return print('* not sent: you are in no room; /join one')
    send({ room, text: checked.value, me: me || undefined, ref: randomBytes(9).toString('base64url') })
  }

  let draining = false
  const drain = async () => {
    if (draining || client === undefined) return
    draining = true
    try {
      while (queue.length > 0 && client.state !== 'closed') {
        const line = queue.shift()!
        if (line.trim().length === 0) continue
        if (line.startsWith('//')) say(line.slice(1))
        else if (line.startsWith('/'))
          await command(line).catch((error: Error & { remoteMessage?: unknown }) =>
            // The server's refusal states the rule; a local failure (timeout, closed) says what happened.
            print(`* ${inert(String(error.remoteMessage ?? error.message))}`),
          )
        else say(line)
      }
    } finally {
      draining = false
      maybeFinish()
    }
  }

  print(`* connecting to ${url} as ${inert(credentials.name)}…`)
  try {
    client = await MessageClient.connect(url, {
      credentials,
      reconnect: { initialDelay: 200, maxDelay: 5000, retryFirstConnect: true },
      tls: options.ca ? { ca: readFileSync(options.ca) } : undefined,
    })
  } catch (error) {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigterm)
    input.close()
    process.stdin.destroy()
    throw error
  }
  state = client.state
  setPrompt()

  const shownRefs = new Set<string>()
  const showLine = (m: ChatLine, mark?: 'missed' | 'earlier') => {
    // A line sent again after a restart of a server without --data is a second copy in the new log.
    if (typeof m.ref === 'string') {
      const key = `${String(m.room)}\0${String(m.from)}\0${m.ref}`
      if (shownRefs.has(key)) return
      shownRefs.add(key)
      if (shownRefs.size > SHOWN_REFS) shownRefs.delete(shownRefs.values().next().value!)
    }
    const tag = mark === undefined ? '' : tty ? ` \x1b[2m(${mark})\x1b[22m` : ` (${mark})`
    const where = `${time(m.at)} [#${inert(String(m.room))}]${tag}`
    print(
      m.me
        ? `${where} * ${inert(String(m.from))} ${inert(String(m.text))}`
        : `${where} <${inert(String(m.from))}> ${inert(String(m.text))}`,
    )
  }
  // A server without durable rooms (or an older one) sends lines as events.
  // A room read through its log never shows an event copy (after a restart the server may send one
  // before our subscribed join reaches it).
  client.on('message', (m: ChatLine) => {
    if (typeof m?.room === 'string' && subscriptions.has(m.room)) return
    showLine(m)
  })

  // Lines published before this moment (the last time the link came back after an outage) arrive from
  // the log, not live: they are shown as missed. The clocks of client and server are assumed close; the
  // mark is a hint, the offsets are what make each line arrive exactly once.
  let backAt = 0
  const subscriptions = new Map<string, Subscription>()
  /** Reads the room's log from now on (and, after an outage, from where it left off); false if unavailable. */
  const subscribe = async (name: string): Promise<boolean> => {
    if (subscriptions.has(name)) return true
    let sub: Subscription
    try {
      sub = await client!.subscribe(logRoom(name), { recover: true })
    } catch {
      return false
    }
    subscriptions.set(name, sub)
    sub.on('message', (data, meta) => {
      if (meta.name !== 'message' || typeof data !== 'object' || data === null) return
      const m = data as ChatLine
      showLine(m, typeof m.at === 'number' && m.at < backAt ? 'missed' : undefined)
    })
    sub.on('gap', (gap: GapInfo) => print(gapText(name, gap)))
    return true
  }
  /** Joins a room, reading its lines from the log when the server has one. */
  const join = async (name: string) => {
    const subscribed = await subscribe(name)
    return request<{ room: string; members: string[] }>(
      'join',
      subscribed ? { room: name, subscribed } : name,
    )
  }
  /**
   * The room's last lines from before we joined, marked "(earlier)": those up to where our subscription
   * started (later ones arrive through it, so none shows twice).
   */
  const showEarlier = async (name: string) => {
    const start = subscriptions.get(name)?.position?.offset
    if (start === undefined || start === 0) return
    const lines = await request<ChatLine[]>('history', name).catch(() => [] as ChatLine[])
    if (!Array.isArray(lines)) return
    const earlier = lines
      .filter((l) => typeof l?.offset === 'number' && l.offset <= start)
      .slice(-EARLIER_LINES)
    for (const line of earlier) showLine(line, 'earlier')
  }
  client.on('error', (error: Error & { remoteMessage?: unknown }) =>
    print(`* ${inert(String(error.remoteMessage ?? error.message))}`),
  )
  client.on('system', (m: ChatNotice) =>
    print(
      `${time(m.at)}${m.room === undefined ? '' : ` [#${inert(String(m.room))}]`} * ${inert(String(m.text))}`,
    ),
  )
  let shown: ClientState = client.state
  client.on('state', (next: ClientState) => {
    state = next
    setPrompt()
    // Once per outage, not once per attempt.
    if (next === 'reconnecting' && shown === 'connected')
      print('* connection lost; reconnecting… (what you type is kept and sent when the link is back)')
    if (next === 'connected' && shown === 'reconnecting') backAt = Date.now()
    if (next === 'connected' || next === 'reconnecting') shown = next
  })
  client.on('resumed', () => print('* reconnected: session resumed, nothing lost'))
  client.on('sessionLost', () => {
    // Lines whose answer never came: those written to the old server are sent again as their requests
    // fail (send()); the rest never left this process and go out on the new session by themselves.
    print(
      `* the server lost our session; rejoining and sending ${unacknowledged.size} unacknowledged line(s) again`,
    )
    for (const r of joined) {
      const data = subscriptions.has(r) ? { room: r, subscribed: true } : r
      void client!.request('join', data, { timeout: REQUEST_TIMEOUT_MS }).catch(() => {})
    }
  })
  client.on('close', (reason?: Error) => {
    if (reason !== undefined) print(`* disconnected: ${inert(reason.message)}`)
    if (!closing) process.exitCode = 1
    finish()
  })

  try {
    const { members } = await join(firstRoom)
    print(
      `* connected to ${url} as ${inert(credentials.name)}; in #${options.room}: ${members.map(inert).join(', ')}`,
    )
    await showEarlier(firstRoom)
  } catch (error) {
    print(`* could not join #${options.room}: ${(error as Error).message}`)
  }
  void drain()
  if (inputEnded) maybeFinish()
  await finished
  process.off('SIGINT', onSigint)
  process.off('SIGTERM', onSigterm)
  input.close()
  // A pipe whose writer is still open would keep the process alive after /quit.
  process.stdin.destroy()
  await client.close()
}

function gapText(room: string, gap: GapInfo): string {
  if (gap.reason === 'epoch')
    return `* [#${inert(room)}] the server restarted without its history of this room (no --data?): lines sent while you were away, if any, are lost`
  return `* [#${inert(room)}] ${gap.count} line(s) sent while you were away are no longer kept by the server and cannot be shown`
}

function time(at: unknown): string {
  return typeof at === 'number' && Number.isFinite(at) ? new Date(at).toTimeString().slice(0, 5) : '--:--'
}
