// The browser chat at `/` of `wirekit serve` (bundled with the wirekit client as /chat.js). One
// MessageClient over /ws with `persist: 'session'`: a reload resumes the same session, and lines typed
// but not yet acknowledged go out again from sessionStorage.
//
// Every typed line carries a random `ref` and is kept in `pending` (sessionStorage) until the server
// answers its 'say' request (sent once the line is stored in the room's log) or sends it back. After a
// reload, or when the session is lost (the server restarted), every pending line is sent again: the
// server stores a line with a ref it already holds once and answers with that line's place, so nothing
// typed is lost and nothing is stored twice (after a restart too, with `serve --data`). A line shown
// once (by sender and ref) is not shown again, for a server without --data that took it anew.

import { MessageClient } from '../../messaging/client-entry.ts'
import { byId, type DomEvent, page, socketUrl } from '../dom.ts'
import { ChatView, type Line, type Typed } from './view.ts'

type Notice = { room?: string; text: string; at: number; ref?: string }
type Saved = {
  name: string
  token: string
  rooms: string[]
  current: string
  pending: Typed[]
  draft: string
}

const KEY = 'wirekit-chat'
/** Where the client keeps its session (see BrowserClientOptions.persistKey). */
const CLIENT_KEY = 'wirekit-chat:session'
const HELP =
  '/join room · /leave · /nick name · /me action · /who · /rooms · /quit (sign out) · /help. ' +
  'Enter sends; Tab moves between the room list, the line and the buttons.'

const view = new ChatView()
let saved = load()
let client: MessageClient | undefined
/** Sent with every (re)connect: /nick changes the name here so a resume carries the new one. */
const credentials = { name: '', token: '' }
/** Refs handed to the client in this page's life (their request settles the mark). */
const inFlight = new Set<string>()

function load(): Saved {
  try {
    const raw = JSON.parse(page.sessionStorage.getItem(KEY) ?? 'null') as Saved | null
    if (raw !== null && typeof raw.name === 'string') return raw
  } catch {}
  return { name: '', token: '', rooms: [], current: '', pending: [], draft: '' }
}

function save(): void {
  try {
    page.sessionStorage.setItem(KEY, JSON.stringify(saved))
  } catch {}
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('')
}

// ——— connecting ———

async function connect(): Promise<void> {
  view.showChat()
  view.rooms(saved.rooms, saved.current)
  for (const typed of saved.pending) view.typed(typed, saved.name)
  showState()
  // The session the client kept across a reload; if the server does not know it any more, it is lost.
  const before = (
    JSON.parse(page.sessionStorage.getItem(CLIENT_KEY) ?? 'null') as { session?: string } | null
  )?.session
  try {
    client = await MessageClient.connect(socketUrl('/ws'), {
      persist: 'session',
      persistKey: CLIENT_KEY,
      credentials: Object.assign(credentials, { name: saved.name, token: saved.token }),
      reconnect: { initialDelay: 200, maxDelay: 3000, retryFirstConnect: true },
    })
  } catch (error) {
    signOut(reason(error))
    return
  }
  const c = client
  c.on('state', showState)
  c.on('message', (line: Line) => received(line))
  c.on('system', (notice: Notice) => noticed(notice))
  c.on('sessionLost', () => void enterRooms(true))
  c.on('resumed', () => void refreshWho())
  c.on('close', (error?: Error) => {
    if (error !== undefined) signOut(reason(error))
  })
  showState()
  // Every line still waiting goes out now, those handed to the client before a reload too: their answer
  // died with the old page (the copy in the restored outbox, if any, is stored once with this one).
  for (const typed of saved.pending) transmit(typed)
  await enterRooms(before !== undefined && before !== c.sessionId)
}

/** Joins every room (again), shows who is here and each room's history (after a loss: is it a new log?). */
async function enterRooms(afterLoss: boolean): Promise<void> {
  const c = client
  if (c === undefined) return
  await Promise.all(
    saved.rooms.map(async (room) => {
      const joined = c.request<{ members: string[] }>('join', room)
      const history = c.request<Line[]>('history', room)
      try {
        view.who(room, (await joined).members)
        view.history(room, await history, afterLoss, isMine)
      } catch (error) {
        view.notice(room, `could not enter #${room}: ${reason(error)}`, true)
      }
    }),
  )
}

/** Sends a line as a 'say' request, with no deadline: delivered when the server says it is stored. */
function transmit(typed: Typed): void {
  const c = client
  if (c === undefined || inFlight.has(typed.ref)) return
  inFlight.add(typed.ref)
  if (!typed.sent) {
    typed.sent = true
    save()
  }
  const line = { room: typed.room, text: typed.text, me: typed.me, ref: typed.ref }
  c.request('say', line, { timeout: 0 }).then(
    () => settle(typed.ref, 'delivered'),
    (error: Error & { code?: string }) => {
      inFlight.delete(typed.ref)
      if (client !== c || c.state === 'closed') return
      // The old session may have stored it or not: send it again, the server keeps one copy.
      if (error.code === 'WK_SESSION_LOST') transmit(typed)
      else settle(typed.ref, 'failed', reason(error))
    },
  )
}

function settle(ref: string, mark: 'delivered' | 'failed', why?: string): void {
  inFlight.delete(ref)
  const before = saved.pending.length
  saved.pending = saved.pending.filter((t) => t.ref !== ref)
  if (saved.pending.length !== before) save()
  view.mark(ref, mark, why)
  showState()
}

// ——— receiving ———

/** A line this page typed: its ref, from our name (names are unique; anyone else's copy of a ref does not count). */
function isMine(line: Line): boolean {
  return line.from === saved.name && line.ref !== undefined
}

function received(line: Line): void {
  const mine = isMine(line)
  view.line(line, mine)
  if (mine && saved.pending.some((t) => t.ref === line.ref)) settle(line.ref!, 'delivered')
}

let whoTimer: ReturnType<typeof setTimeout> | undefined
function noticed(notice: Notice): void {
  // A refusal of one of our lines (it may have been acknowledged already: the server took it, then refused it).
  if (notice.ref !== undefined) {
    settle(notice.ref, 'failed', notice.text.replace(/^line refused: /, ''))
    return
  }
  view.notice(notice.room ?? saved.current, notice.text, notice.room === undefined)
  // Someone came or went: ask who is here (once for a burst of notices).
  if (notice.room !== undefined) {
    clearTimeout(whoTimer)
    whoTimer = setTimeout(() => void refreshWho(), 150)
  }
}

async function refreshWho(): Promise<void> {
  const c = client
  for (const room of saved.rooms) {
    try {
      view.who(room, (await c!.request<string[]>('who', room)) ?? [])
    } catch {}
  }
}

function showState(): void {
  const waiting = saved.pending.length
  const lines = waiting === 1 ? '1 line waiting' : `${waiting} lines waiting`
  const state = client?.state ?? 'connecting'
  if (state === 'connected') view.state(`connected as ${saved.name}${waiting ? ` · ${lines}` : ''}`, 'up')
  else if (state === 'reconnecting')
    view.state(`connection lost, reconnecting… (${lines}; nothing typed is lost)`, 'down')
  else if (state === 'closed') view.state('disconnected', 'down')
  else view.state(`connecting…${waiting ? ` (${lines})` : ''}`, '')
}

// ——— typing ———

function typedLine(text: string, me = false): void {
  if (saved.current === '') {
    view.notice('', 'join a room first: /join lobby', true)
    return
  }
  const typed: Typed = { ref: randomId(), room: saved.current, text, me }
  saved.pending.push(typed)
  save()
  view.typed(typed, saved.name)
  transmit(typed)
  showState()
}

async function command(line: string): Promise<void> {
  const [verb = '', ...rest] = line.slice(1).split(' ')
  const arg = rest.join(' ').trim()
  const room = saved.current
  try {
    switch (verb.toLowerCase()) {
      case 'join':
        return await join(arg)
      case 'leave':
        return await leave(arg || room)
      case 'nick': {
        const { name } = await client!.request<{ name: string }>('nick', arg)
        saved.name = name
        credentials.name = name
        save()
        return showState()
      }
      case 'me':
        return arg ? typedLine(arg, true) : view.notice(room, 'usage: /me waves', true)
      case 'who':
        await refreshWho()
        return view.notice(
          room,
          `here in #${room}: ${(await client!.request<string[]>('who', room)).join(', ')}`,
        )
      case 'rooms': {
        const rooms = await client!.request<{ room: string; members: number }[]>('rooms')
        return view.notice(
          room,
          `rooms: ${rooms.map((r) => `#${r.room} (${r.members})`).join(', ') || 'none'}`,
        )
      }
      case 'quit':
        return signOut('')
      case 'help':
        return view.notice(room, HELP)
      default:
        return view.notice(room, `unknown command /${verb}; ${HELP}`, true)
    }
  } catch (error) {
    view.notice(room, reason(error), true)
  }
}

async function join(input: string): Promise<void> {
  const { room } = await client!.request<{ room: string; members: string[] }>('join', input)
  if (!saved.rooms.includes(room)) saved.rooms.push(room)
  select(room)
  await enterRooms(false)
}

async function leave(room: string): Promise<void> {
  if (room === '') return
  await client!.request('leave', room)
  saved.rooms = saved.rooms.filter((r) => r !== room)
  view.forget(room)
  select(saved.rooms[0] ?? '')
}

function select(room: string): void {
  saved.current = room
  save()
  view.rooms(saved.rooms, room)
  byId('line').focus()
}

function signOut(error: string): void {
  const c = client
  client = undefined
  void c?.close()
  // After a refusal the lines typed so far wait for the next sign-in (sent again: the session is gone).
  const pending = error ? saved.pending.map((t) => ({ ...t, sent: false })) : []
  byId('name').value = saved.name
  saved = {
    name: '',
    token: saved.token,
    rooms: saved.rooms,
    current: saved.current,
    pending,
    draft: saved.draft,
  }
  save()
  page.sessionStorage.setItem(CLIENT_KEY, 'null')
  if (error === '') page.location.reload()
  else view.showLogin(error)
}

function reason(error: unknown): string {
  // A server's refusal states the rule: show its words, not the framework's wrapping.
  const remote = (error as { remoteMessage?: unknown } | undefined)?.remoteMessage
  const message = typeof remote === 'string' ? remote : error instanceof Error ? error.message : String(error)
  return message
    .replace(/^line refused: /, '')
    .replace(/^Client closed: /, '')
    .replace(/^Server said goodbye: /, '')
    .replace(/^Authentication failed: /, '')
    .replace(/^Request "\w+" failed: /, '')
}

// ——— wiring ———

function submit(id: string, handler: () => void): void {
  byId(id).addEventListener('submit', (event: DomEvent) => {
    event.preventDefault()
    handler()
  })
}

view.onSelect = select

submit('login', () => {
  const name = byId('name').value.trim()
  const room = byId('first-room').value.trim().replace(/^#/, '').toLowerCase() || 'lobby'
  if (name === '') return view.showLogin('choose a nickname')
  const rooms = saved.rooms.length > 0 ? saved.rooms : [room]
  saved = { ...saved, name, token: saved.token || randomId(), rooms, current: saved.current || room }
  save()
  void connect()
})

submit('say', () => {
  const input = byId('line')
  const text = input.value
  if (text.trim() === '') return
  input.value = ''
  saved.draft = ''
  save()
  if (text.startsWith('/')) void command(text)
  else typedLine(text)
})

submit('join', () => {
  const input = byId('join-room')
  const room = input.value.trim()
  input.value = ''
  if (room !== '') void join(room).catch((error) => view.notice(saved.current, reason(error), true))
})

byId('line').addEventListener('input', () => {
  saved.draft = byId('line').value
  save()
})
byId('leave').addEventListener('click', () => void command('/leave'))
byId('sign-out').addEventListener('click', () => signOut(''))

byId('line').value = saved.draft
if (saved.name !== '') void connect()
else view.showLogin()
