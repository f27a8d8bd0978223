// The chat's rules for nicknames, room names and lines, shared by `wirekit serve` (which enforces them)
// and `wirekit chat` (which checks before sending, so a user hears the rule without a round trip).
// Each check returns the rule in words when it fails: what the user sees is the rule, not "invalid".

/** Longest nickname, in characters (code points, after NFKC normalisation). */
export const MAX_NAME = 24
/** Longest room name, in characters. */
export const MAX_ROOM = 32
/** Longest chat line, in characters. Longer lines are refused whole, never cut. */
export const MAX_LINE = 2000

export const NAME_RULE =
  `a nickname is 1-${MAX_NAME} letters (any script), digits, spaces, and _ . - ' ; ` +
  'it starts and ends with a letter or digit, has no two spaces in a row, and no control or invisible characters'

export const UNIQUE_RULE =
  'names are unique ignoring case, accents, Unicode width/compatibility forms (NFKC), look-alike letters ' +
  "(Cyrillic/Greek letters that look Latin, 0/o, 1/l/i, rn/m) and the separators ' _ . - and space"

export const ROOM_RULE =
  `a room name is 1-${MAX_ROOM} letters (any script), digits, and _ . - ; no spaces or control characters; ` +
  'case does not matter (#Lobby is #lobby)'

/** Rooms one client may be in at once: each is a membership, presence notices, a `who` entry. */
export const MAX_ROOMS_PER_CLIENT = 50
export const ROOMS_RULE = `one client may be in at most ${MAX_ROOMS_PER_CLIENT} rooms at once; /leave one first`
/** Nickname changes one client may make a minute: each is announced in every room it is in. */
export const MAX_NICKS_PER_MINUTE = 5
export const NICKS_RULE = `at most ${MAX_NICKS_PER_MINUTE} nickname changes a minute; try again shortly`
export const LINE_RULE = `a line is at most ${MAX_LINE} characters, with no control characters`

/** The outcome of a check: the normalised value, or the rule it broke. */
export type Checked = { ok: true; value: string } | { ok: false; reason: string }

const NAME_CHARS = /^[\p{L}\p{M}\p{N}_.' -]+$/u
const ROOM_CHARS = /^[\p{L}\p{M}\p{N}_.-]+$/u
const EDGE = /^[\p{L}\p{N}]$/u
// C0, DEL, C1, and the format characters (bidi overrides, zero-width spaces, BOM…) that make two
// different strings look alike or reorder what follows them.
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u

/** Checks a nickname and returns it NFKC-normalised. */
export function checkName(input: unknown): Checked {
  if (typeof input !== 'string') return { ok: false, reason: NAME_RULE }
  const name = input.normalize('NFKC')
  const length = [...name].length
  if (
    length === 0 ||
    length > MAX_NAME ||
    CONTROL.test(name) ||
    !NAME_CHARS.test(name) ||
    !EDGE.test(String.fromCodePoint(name.codePointAt(0)!)) ||
    !EDGE.test([...name].at(-1)!) ||
    name.includes('  ')
  ) {
    return { ok: false, reason: NAME_RULE }
  }
  return { ok: true, value: name }
}

/** Checks a room name and returns it normalised (NFKC, lower case); a leading '#' is allowed and dropped. */
export function checkRoom(input: unknown): Checked {
  if (typeof input !== 'string') return { ok: false, reason: ROOM_RULE }
  const room = input.normalize('NFKC').replace(/^#/, '').toLowerCase()
  const length = [...room].length
  if (length === 0 || length > MAX_ROOM || CONTROL.test(room) || !ROOM_CHARS.test(room))
    return { ok: false, reason: ROOM_RULE }
  return { ok: true, value: room }
}

/** Chat rooms keep their lines in the durable room `chat:<room>` (the server's history log). */
export const LOG_PREFIX = 'chat:'

/** The durable room holding a (checked) chat room's lines: what `wirekit chat` subscribes to. */
export function logRoom(room: string): string {
  return LOG_PREFIX + room
}

/** Checks a chat line: refused whole if too long or carrying control characters (tabs become spaces). */
export function checkLine(input: unknown): Checked {
  if (typeof input !== 'string') return { ok: false, reason: LINE_RULE }
  const line = input.replace(/\t/g, '    ')
  const length = [...line].length
  if (length > MAX_LINE)
    return { ok: false, reason: `the line has ${length} characters; ${LINE_RULE}. Nothing was sent` }
  if (/[\p{Cc}\u2028\u2029]/u.test(line)) return { ok: false, reason: LINE_RULE }
  if (line.trim().length === 0) return { ok: false, reason: 'an empty line is not sent' }
  return { ok: true, value: line }
}

// Look-alikes folded onto one Latin letter. Upper case first (Greek capital mu looks like M, its lower
// case like u), then the lower-case forms. Not the whole Unicode confusables table: the letters that
// pass NAME_CHARS and are mistaken for Latin in the fonts terminals use.
// biome-ignore format: a lookup table reads better dense
const UPPER: Record<string, string> = {
  А: 'a', В: 'b', Е: 'e', К: 'k', М: 'm', Н: 'h', О: 'o', Р: 'p', С: 'c', Т: 't', У: 'y', Х: 'x', Ѕ: 's',
  І: 'i', Ј: 'j', Ԛ: 'q', Ԝ: 'w', Ү: 'y', Ӏ: 'l', Α: 'a', Β: 'b', Ε: 'e', Ζ: 'z', Η: 'h', Ι: 'i', Κ: 'k',
  Μ: 'm', Ν: 'n', Ο: 'o', Ρ: 'p', Τ: 't', Υ: 'y', Χ: 'x',
}
// biome-ignore format: a lookup table reads better dense
const LOWER: Record<string, string> = {
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  ѕ: 's', і: 'i', ї: 'i', ј: 'j', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ү: 'y', ӏ: 'l', ɡ: 'g', α: 'a', β: 'b',
  γ: 'y', ε: 'e', ι: 'i', κ: 'k', μ: 'u', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w', ς: 'c',
}

/**
 * The key two nicknames collide on: NFKC, accents dropped, look-alike capitals, lower case, look-alike small letters,
 * then 0→o, 1/i/l→l, rn→m, and ' ' / _ / . / - treated alike. "Alice", "ALICE", "Аlice" (Cyrillic А)
 * and "a1ice" share a key.
 */
export function nameKey(name: string): string {
  let key = ''
  // Accents off first (decompose, drop non-spacing marks): "José" and "Jose" are one name.
  const bare = name
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .normalize('NFC')
  for (const ch of bare) key += UPPER[ch] ?? ch
  key = key.toLowerCase()
  let folded = ''
  for (const ch of key) folded += LOWER[ch] ?? ch
  return folded
    .replace(/[1il|]/g, 'l')
    .replace(/0/g, 'o')
    .replace(/rn/g, 'm')
    .replace(/[ _.\-']+/g, '_')
}
