import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkLine, checkName, checkRoom, MAX_LINE, nameKey } from '../../src/cli/chat-rules.ts'
import { inert } from '../../src/cli/inert.ts'

describe('chat rules', () => {
  test('nicknames with spaces and letters of any script are allowed, NFKC-normalised', () => {
    for (const name of ['José María', 'Алёна', ' 李小龙'.trim(), "O'Brien", 'dev-42', 'Zoë']) {
      const checked = checkName(name)
      assert.ok(checked.ok, name)
    }
    assert.deepEqual(checkName('ａｌｉｃｅ'), { ok: true, value: 'alice' }) // fullwidth letters
  })

  test('nicknames with control or invisible characters, edge spaces, double spaces or symbols are refused with the rule', () => {
    for (const name of [
      '',
      ' alice',
      'alice ',
      'a  b',
      'bad\x1bname',
      'new\nline',
      'zero\u200bwidth',
      'rtl\u202eevil',
      '<alice>',
      '*',
      'x'.repeat(25),
    ]) {
      const checked = checkName(name)
      assert.equal(checked.ok, false, JSON.stringify(name))
      assert.match((checked as { reason: string }).reason, /a nickname is 1-24 letters/)
    }
  })

  test('names collide ignoring case, accents, width and common Cyrillic/Greek/digit look-alikes', () => {
    const key = nameKey('alice')
    for (const same of ['Alice', 'ALICE', 'Аlice', 'аlісе', 'a1ice', 'alIce', 'ａｌｉｃｅ', 'ΑLICE'])
      assert.equal(nameKey(same), key, same)
    assert.equal(nameKey('rnary'), nameKey('mary'))
    assert.equal(nameKey('José María'), nameKey('Jose Maria'))
    assert.equal(nameKey('bob smith'), nameKey('bob_smith'))
    assert.notEqual(nameKey('alice'), nameKey('alicia'))
  })

  test('room names are case-insensitive, may start with #, and refuse spaces and control characters', () => {
    assert.deepEqual(checkRoom('#Lobby'), { ok: true, value: 'lobby' })
    assert.deepEqual(checkRoom('café-42'), { ok: true, value: 'café-42' })
    for (const room of ['', 'two words', 'a\x1b', 'x'.repeat(33), 'a/b'])
      assert.match((checkRoom(room) as { reason: string }).reason, /a room name is 1-32/, room)
  })

  test('a line over the limit or with control characters is refused, tabs become spaces', () => {
    assert.deepEqual(checkLine('a\tb'), { ok: true, value: 'a    b' })
    assert.equal(checkLine('x'.repeat(MAX_LINE)).ok, true)
    assert.match((checkLine('x'.repeat(MAX_LINE + 1)) as { reason: string }).reason, /2001 characters/)
    assert.equal(checkLine('bell\x07').ok, false)
    assert.equal(checkLine('next\u2028line').ok, false)
  })

  test('inert() shows every control, escape, C1 and bidi character as a visible stand-in and keeps emoji', () => {
    assert.equal(inert('a\x1b[2Jb\r\nc\x7f'), 'a␛[2Jb␍␊c␡')
    assert.equal(inert('\x9b31m\u202e\u2028'), '<U+009B>31m<U+202E><U+2028>')
    assert.equal(inert('👩‍💻 ok ❤️'), '👩‍💻 ok ❤️')
  })
})
