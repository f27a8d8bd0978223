// The Lua scripts of the Redis adapter. Each runs atomically in Redis, which is what makes the global
// broadcast order, the session ownership fence and the claim-with-catch-up race-free.
// Key layout (prefix `wirekit` by default):
//   <p>:epoch <p>:seq <p>:log       broadcast epoch (changes when Redis lost its data), counter, capped stream
//   <p>:s:{id}  <p>:s:{id}:m        session hash (owner, identity, token digest, sequence numbers, rooms,
//                                   position), outbox list

import type { Redis } from 'ioredis'

/** Assigns the next global sequence numbers to a batch, logs each broadcast and publishes the batch once. */
const PUBLISH = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[1], KEYS[3])
  epoch = ARGV[1]
end
local n = #ARGV - 4
local last = redis.call('INCRBY', KEYS[1], n)
local first = last - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. (first + i - 1), 'm', ARGV[4 + i])
end
local payload = 'B ' .. epoch .. ' ' .. first .. ' ' .. n .. '\\n' .. table.concat(ARGV, '', 5)
if ARGV[4] == '1' then redis.call('SPUBLISH', ARGV[3], payload) else redis.call('PUBLISH', ARGV[3], payload) end
return {epoch, first}
`

/** Where the broadcast order stands: the epoch (created if absent) and the last sequence number. */
const POSITION = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[1], KEYS[3])
  epoch = ARGV[1]
end
return {epoch, redis.call('GET', KEYS[1]) or '0'}
`

/** Writes a whole session (new, restored, or re-synced after an outage) unless another node owns it. */
const OPEN = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'identity', ARGV[3], 'nextSeq', ARGV[4], 'lastReceived', ARGV[5],
  'rooms', ARGV[6], 'epoch', ARGV[7], 'pos', ARGV[8], 'head', ARGV[9], 'token', ARGV[10])
for i = 11, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`

/**
 * Appends new messages, drops acknowledged ones, moves the counters. 1 written, 0 another node owns the
 * session, -1 the session is gone, -2 the stored list is out of step (re-sync), -3 over the cap.
 */
const UPDATE = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner ~= ARGV[1] then
  if owner then return 0 end
  return -1
end
local head = tonumber(redis.call('HGET', KEYS[1], 'head'))
local len = redis.call('LLEN', KEYS[2])
if #ARGV >= 10 then
  if tonumber(ARGV[8]) ~= head + len then return -2 end
  for i = 10, #ARGV, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
  len = len + #ARGV - 9
end
local acked = tonumber(ARGV[3])
if acked >= head then
  local drop = math.min(acked - head + 1, len)
  if drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
  len = len - drop
  head = acked + 1
end
redis.call('HSET', KEYS[1], 'head', head, 'lastReceived', ARGV[4], 'nextSeq', ARGV[5], 'epoch', ARGV[6],
  'pos', ARGV[7])
if len > tonumber(ARGV[9]) then return -3 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`

/** Keeps an owned session alive (TTL) and optionally rewrites its rooms. Same results as UPDATE. */
const TOUCH = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner ~= ARGV[1] then
  if owner then return 0 end
  return -1
end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'rooms', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`

/** Deletes a session this node owns. */
const DELETE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
`

/**
 * Takes ownership of a session and returns it with the broadcasts logged after its position:
 * {previous owner, hash fields, stored messages, epoch, last sequence, log entries} or nil. Nil too,
 * and the owner undisturbed, unless the claimant shows the session's token digest (ARGV[4]) and its
 * identity as JSON (ARGV[5]). Digests, not tokens, are compared here: timing can reveal at most a
 * prefix of a SHA-256 digest, which does not help to find the token.
 */
const CLAIM = `
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return nil end
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return nil end
if (redis.call('HGET', KEYS[1], 'identity') or '') ~= ARGV[5] then return nil end
local prev = redis.call('HGET', KEYS[1], 'owner') or ''
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local msgs = redis.call('LRANGE', KEYS[2], 0, -1)
local epoch = redis.call('GET', KEYS[4]) or ''
local last = tonumber(redis.call('GET', KEYS[5]) or '0')
local pos = tonumber(redis.call('HGET', KEYS[1], 'pos') or '0')
local log = {}
if redis.call('HGET', KEYS[1], 'epoch') == epoch and last > pos then
  log = redis.call('XRANGE', KEYS[3], '0-' .. (pos + 1), '+', 'COUNT', ARGV[3])
end
return {prev, fields, msgs, epoch, tostring(last), log}
`

type Reply = Promise<unknown>

/** The Redis connection with the adapter's scripts defined on it. */
export type ScriptedRedis = Redis & {
  wkPublish(...args: (string | Buffer | number)[]): Reply
  wkPosition(...args: (string | number)[]): Reply
  wkOpen(...args: (string | Buffer | number)[]): Reply
  wkUpdate(...args: (string | Buffer | number)[]): Reply
  wkTouch(...args: (string | number)[]): Reply
  wkDelete(...args: (string | number)[]): Reply
  wkClaimBuffer(...args: (string | number)[]): Reply
}

export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('wkPublish', { numberOfKeys: 3, lua: PUBLISH })
  redis.defineCommand('wkPosition', { numberOfKeys: 3, lua: POSITION })
  redis.defineCommand('wkOpen', { numberOfKeys: 2, lua: OPEN })
  redis.defineCommand('wkUpdate', { numberOfKeys: 2, lua: UPDATE })
  redis.defineCommand('wkTouch', { numberOfKeys: 2, lua: TOUCH })
  redis.defineCommand('wkDelete', { numberOfKeys: 2, lua: DELETE })
  redis.defineCommand('wkClaim', { numberOfKeys: 5, lua: CLAIM })
  return redis as ScriptedRedis
}

/** Key names under one prefix. Session keys share a hash tag so a cluster keeps them in one slot. */
export class Keys {
  readonly epoch: string
  readonly seq: string
  readonly log: string
  readonly broadcast: string
  readonly control: string
  readonly #prefix: string

  constructor(prefix: string) {
    this.#prefix = prefix
    this.epoch = `${prefix}:epoch`
    this.seq = `${prefix}:seq`
    this.log = `${prefix}:log`
    this.broadcast = `${prefix}:bc`
    this.control = `${prefix}:ctl`
  }

  session(id: string): string {
    return `${this.#prefix}:s:{${id}}`
  }

  messages(id: string): string {
    return `${this.#prefix}:s:{${id}}:m`
  }

  node(node: string): string {
    return `${this.#prefix}:n:${node}`
  }
}
