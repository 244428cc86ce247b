import { plural, textLine } from '../text.js'
import { cutText, identityLabel, pathsFrom, pathsInto, pathsToAdministrator, smallestCut, type EscalationGraph, type Path } from './paths.js'

/** A path as a person reads it: where it starts and ends, then each step with what allows it and what it hangs on. */
function pathBlock(path: Path, graph: EscalationGraph, cut: boolean): string[] {
  const home = path.from.split(':')[4]
  const end = graph.identities.get(path.to)
  const where = `${identityLabel(path.to, home)}${end?.admin && end.kind !== 'administrator' ? ' (an administrator)' : ''}`
  const lines = [`${identityLabel(path.from, home)} (${home ?? ''}) → ${where} in ${plural(path.steps.length, 'step')}:`]
  path.steps.forEach((step, i) => {
    lines.push(`  ${String(i + 1)}. ${step.action} → ${identityLabel(step.to, home)}`)
    if (step.via.length) lines.push(`     allowed by ${step.via.join(', ')}`)
    if (step.conditions.length) lines.push(`     depends on ${step.conditions.join('; ')}`)
  })
  if (cut && end?.admin) {
    const steps = smallestCut(graph, path.from)
    lines.push(steps ? `  smallest cut: take away ${cutText(steps)}` : '  smallest cut: more separate paths than one change can cut; start with the first step')
  }
  return lines.map(textLine)
}

/** A path as `--json` prints it: one object per path. */
const pathJson = (path: Path): object => ({ from: path.from, to: path.to, steps: path.steps.map((s) => ({ from: s.from, to: s.to, action: s.action, via: s.via, conditions: s.conditions })) })

/** What `trailwatch paths` prints for a graph: each shortest path, as text blocks or JSON lines. */
export function pathsOutput(graph: EscalationGraph, accounts: number, query: { from?: string | undefined; to?: string | undefined; json: boolean }): string {
  const { from: arn, to: target } = query
  const isTarget = target === undefined ? (id: string) => graph.identities.get(id)?.admin === true : (id: string) => id === target
  const paths = arn === undefined ? (target === undefined ? pathsToAdministrator(graph) : pathsInto(graph, [target])) : pathsFrom(graph, arn, isTarget)
  if (query.json) return paths.map((path) => `${JSON.stringify(pathJson(path))}\n`).join('')
  const goal = target === undefined ? 'administrator' : identityLabel(target)
  if (paths.length === 0) {
    const start = arn === undefined ? 'no identity' : identityLabel(arn)
    const already = arn !== undefined && target === undefined && graph.identities.get(arn)?.admin
    const verdict = already ? `${start} is an administrator already` : `${start} ${arn === undefined ? 'can' : 'cannot'} become ${goal}${arn === undefined ? ' without being one' : ''}`
    return `${textLine(`${verdict} (the latest IAM snapshots of ${plural(accounts, 'account')})`)}\n`
  }
  return `${paths.map((path) => pathBlock(path, graph, target === undefined).join('\n')).join('\n\n')}\n`
}
