// The Lua scripts of the Redis Streams history store. Each runs atomically, so numbering, trimming and
// the byte count of a room never disagree. Key layout, one hash tag per room (one Redis Cluster slot):
//   <prefix>:{h:<room>}     the stream; entry id `<offset>-0`, fields t (time), n (name), d (data), s (size)
//   <prefix>:{h:<room>}:m   hash: epoch (written when the log is created), last (offset counter), bytes
// When Redis lost its data the hash is gone: the next append, read or head writes a new epoch, and a
// subscriber's old position is reported as an 'epoch' gap instead of being matched against new offsets.
// Even an empty room gets its epoch when first asked (head, read), so no position on Redis is
// `{ 0, '' }`, which would match whatever log comes after a loss and hide what the lost one held.

import type { Redis } from 'ioredis'

/** Drops the oldest entries while a limit is passed (limits of -1 are off). Shared by both scripts. */
const TRIM = `
local function offsetOf(id) return tonumber(string.match(id, '^(%d+)')) end
local function trim(stream, meta, now, maxMessages, maxAge, maxBytes)
  local len = redis.call('XLEN', stream)
  local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
  if len == 0 then
    if bytes ~= 0 then redis.call('HSET', meta, 'bytes', 0) end
    return
  end
  local cutoff = -1
  if maxAge >= 0 then cutoff = now - maxAge end
  local function over(t)
    return (maxMessages >= 0 and len > maxMessages) or (maxBytes >= 0 and bytes > maxBytes) or t < cutoff
  end
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if not over(tonumber(oldest[1][2][2])) then return end
  local start = '-'
  local cut = nil
  while len > 0 do
    local batch = redis.call('XRANGE', stream, start, '+', 'COUNT', 128)
    local stop = #batch < 128
    for _, e in ipairs(batch) do
      if not over(tonumber(e[2][2])) then stop = true break end
      len = len - 1
      bytes = bytes - tonumber(e[2][8])
      cut = e[1]
    end
    if stop then break end
    start = '(' .. batch[#batch][1]
  end
  redis.call('XTRIM', stream, 'MINID', '=', string.format('%d-0', offsetOf(cut) + 1))
  redis.call('HSET', meta, 'bytes', bytes)
end
`

/** The room's epoch, creating the room's log (epoch `fresh`, nothing in it) when Redis has none. */
const OPEN = `
local function open(stream, meta, fresh)
  local epoch = redis.call('HGET', meta, 'epoch')
  if epoch then return epoch end
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', fresh, 'last', 0, 'bytes', 0)
  return fresh
end
`

/**
 * ARGV: new epoch, now, maxMessages, maxAge, maxBytes, notice channel ('' for none), room, origin (the
 * appending store), then (name, data, size) per entry. → {epoch, first offset}. The notice
 * `<epoch> <last offset> <origin> <room>` tells every node to read.
 */
const APPEND = `${TRIM}${OPEN}
local epoch = open(KEYS[1], KEYS[2], ARGV[1])
local n = (#ARGV - 8) / 3
local last = redis.call('HINCRBY', KEYS[2], 'last', n)
local first = last - n + 1
local added = 0
for i = 0, n - 1 do
  local size = tonumber(ARGV[11 + i * 3])
  redis.call('XADD', KEYS[1], string.format('%d-0', first + i), 't', ARGV[2], 'n', ARGV[9 + i * 3], 'd', ARGV[10 + i * 3], 's', size)
  added = added + size
end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], epoch .. ' ' .. string.format('%d', last) .. ' ' .. ARGV[8] .. ' ' .. ARGV[7]) end
redis.call('HINCRBY', KEYS[2], 'bytes', added)
trim(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
if tonumber(ARGV[4]) >= 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {epoch, first}
`

/** ARGV: now, maxMessages, maxAge, maxBytes, from offset, limit, new epoch. → {epoch, last, first, entries} */
const READ = `${TRIM}${OPEN}
local epoch = open(KEYS[1], KEYS[2], ARGV[7])
trim(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
local last = tonumber(redis.call('HGET', KEYS[2], 'last'))
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local first = last + 1
if #oldest > 0 then first = offsetOf(oldest[1][1]) end
local from = math.max(tonumber(ARGV[5]), first)
local entries = {}
if from <= last then entries = redis.call('XRANGE', KEYS[1], string.format('%d-0', from), '+', 'COUNT', ARGV[6]) end
return {epoch, last, first, entries}
`

/** ARGV: new epoch. → {epoch, last} */
const HEAD = `${OPEN}
local epoch = open(KEYS[1], KEYS[2], ARGV[1])
return {epoch, redis.call('HGET', KEYS[2], 'last')}
`

type Reply = Promise<unknown>
export type HistoryRedis = Redis & {
  wkHistoryAppend(...args: (string | Buffer | number)[]): Reply
  wkHistoryReadBuffer(...args: (string | number)[]): Reply
  wkHistoryHead(...args: string[]): Reply
}

export function defineHistoryScripts(redis: Redis): HistoryRedis {
  redis.defineCommand('wkHistoryAppend', { numberOfKeys: 2, lua: APPEND })
  redis.defineCommand('wkHistoryRead', { numberOfKeys: 2, lua: READ })
  redis.defineCommand('wkHistoryHead', { numberOfKeys: 2, lua: HEAD })
  return redis as HistoryRedis
}

/**
 * The two keys of a room. The hash tag `{h:<room>` up to the first `}` is the same text in both and never
 * empty, so both land in one cluster slot whatever the room name holds.
 */
export function roomKeys(prefix: string, room: string): [stream: string, meta: string] {
  const stream = `${prefix}:{h:${room}}`
  return [stream, `${stream}:m`]
}
