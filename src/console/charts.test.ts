import { describe, expect, it } from 'vitest'
import type { Path } from '../iam/paths.js'
import { escalationPicture } from './charts.js'

const ACCOUNT = '111122223333'
const hostile = `arn:aws:iam::${ACCOUNT}:role/<script>alert(1)</script>`
const path_: Path = {
  from: `arn:aws:iam::${ACCOUNT}:user/dev`,
  to: hostile,
  steps: [{ from: `arn:aws:iam::${ACCOUNT}:user/dev`, to: hostile, action: 'sts:AssumeRole', via: ['user/dev:own#"><img src=x>'], conditions: [] }],
}

describe('the escalation picture', () => {
  it('escapes what a snapshot names, in labels, titles and links', () => {
    const svg = escalationPicture([path_], []).markup
    expect(svg).not.toContain('<script>')
    expect(svg).not.toContain('<img')
    expect(svg).toContain('role script&gt;')
    expect(svg).toContain('&lt;img src=x&gt;')
    expect(svg).toContain(`href="/principals?arn=${encodeURIComponent(hostile)}"`)
  })

  it('puts each identity in the column of its distance from the start, and dashes only the cut', () => {
    const admin = `arn:aws:iam::${ACCOUNT}:role/admin`
    const mid = `arn:aws:iam::${ACCOUNT}:role/mid`
    const start = `arn:aws:iam::${ACCOUNT}:user/dev`
    const last = { from: mid, to: admin, action: 'iam:CreateAccessKey', via: [], conditions: [] }
    const steps = [{ from: start, to: mid, action: 'sts:AssumeRole', via: [], conditions: [] }, last]
    const svg = escalationPicture([{ from: start, to: admin, steps }], [last]).markup
    const xs = [...svg.matchAll(/<rect class="identity[^"]*" x="(\d+)"/g)].map((m) => Number(m[1]))
    expect(xs).toEqual([0, 310, 620])
    expect(svg.match(/<g class="step cut">/g)).toHaveLength(1)
    expect(svg).toContain('class="identity admin" x="620"')
  })
})
