// Makes text from other people safe to print on a terminal: every control character (C0, DEL, C1, and so
// every ESC/CSI/OSC escape sequence), line and paragraph separator, bidi override and other invisible
// format character is shown as a visible placeholder instead of being obeyed, so a line cannot clear the
// screen, move the cursor, change the title, start a new line that looks like a server notice, or reorder
// the text after it.

// C0 controls and DEL have their own pictures (U+2400 block): ␛ for ESC, ␊ for LF, ␡ for DEL.
const PICTURE_BASE = 0x2400
// Kept: the zero-width joiner and variation selectors build emoji; they cannot move the cursor.
const KEEP = new Set([0x200d, 0xfe0e, 0xfe0f])

/** Returns `text` with every character a terminal would obey replaced by a visible stand-in. */
export function inert(text: string): string {
  let out = ''
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (code < 0x20) out += String.fromCodePoint(PICTURE_BASE + code)
    else if (code === 0x7f) out += '\u2421'
    else if (isInvisible(code) && !KEEP.has(code))
      out += `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`
    else out += ch
  }
  return out
}

const FORMAT = /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]$/u

function isInvisible(code: number): boolean {
  // C1 controls (0x80-0x9f, among them the single-byte CSI 0x9b) and Unicode format/separator characters.
  if (code >= 0x80 && code <= 0x9f) return true
  if (code < 0xa0) return false
  return FORMAT.test(String.fromCodePoint(code))
}
