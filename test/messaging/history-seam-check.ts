// The judge of the seam property tests: what a subscriber got against what was published.
import assert from 'node:assert/strict'

/**
 * Walks offsets 1..published: each must be delivered or inside exactly one gap (`[from, to]`), in order;
 * nothing delivered twice or out of order, no gap reported twice.
 */
export function assertDeliveredOrGapped(
  delivered: number[],
  gaps: [number, number][],
  published: number,
): void {
  let d = 0
  let g = 0
  for (let expected = 1; expected <= published; ) {
    if (delivered[d] === expected) {
      expected++
      d++
    } else if (gaps[g] !== undefined && gaps[g]![0] === expected) {
      expected = gaps[g]![1] + 1
      g++
    } else
      assert.fail(
        `offset ${expected} neither delivered nor reported (delivered ${delivered}, gaps ${JSON.stringify(gaps)})`,
      )
  }
  assert.equal(d, delivered.length, 'nothing delivered twice or out of order')
  assert.equal(g, gaps.length, 'no gap reported twice')
}
