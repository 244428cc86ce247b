import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../src/cli/context.js'
import { ProgressLine } from '../src/cli/progress.js'
import { serveOps } from '../src/cli/ops.js'
import { collect, parseDays, parseInstant, untilStopSignal } from '../src/cli/options.js'
import { laterReportWarnings } from '../src/credentials/inventory.js'
import { loadConfig } from '../src/config.js'
import { commandLogger } from '../src/logger.js'
import { textLine } from '../src/text.js'
import type { Store } from '../src/clickhouse/client.js'
import { AppError } from '../src/errors.js'
import type { Settings } from '../src/settings.js'
import { incidentOfAlerts } from '../src/incidents/incidents.js'
import { switchDetector, switchedOff } from '../src/alerts/switches.js'
import { recordFindings } from '../src/incidents/record.js'
import { attackCoverage } from '../src/alerts/tactics.js'
import { backtest, histogramLines } from './backtest.js'
import { durationMs, type Detector, type Finding } from './define.js'
import { findingText, runDetector } from './engine.js'
import { DETECTORS, findDetectors, unknownDetector } from './registry.js'
import { checkRulePatterns, configuredRules, loadRuleFiles, rulePaths, skippedRuleLine, type LoadedRule } from './rule-files.js'
import { testRules, withScratchStore } from './rule-tests.js'
import { detectRange, LATENESS_MS } from './replay.js'
import { DetectorScheduler } from './scheduler.js'

interface DetectOptions extends CommonOptions {
  once?: boolean
  at?: number
  from?: number
  to?: number
  detector?: string[]
  json?: boolean
  yes?: boolean
}

/** The contract of `detect --json`: one object per finding per line. */
function findingLine(finding: Finding, incidentId: string | undefined): string {
  return JSON.stringify({
    detector: finding.detector,
    severity: finding.severity,
    principal: finding.principal,
    account: finding.account,
    title: finding.title,
    first_seen: finding.firstSeen,
    last_seen: finding.lastSeen,
    evidence: finding.evidence,
    why: finding.why,
    alert_id: finding.alertId,
    attack: finding.attack,
    runbook: finding.runbook,
    incident_id: incidentId ?? null,
  })
}

/** Longer replays are asked for by name at a terminal: a typo in a year is days of work. */
const LONG_RANGE_DAYS = 31

/**
 * A range without --to runs to now: say so before starting, on stderr, with its length. At a
 * terminal, a range over LONG_RANGE_DAYS needs --yes.
 */
function announceRange(from: number, givenTo: number | undefined, to: number, yes: boolean): void {
  const days = (to - from) / 86_400_000
  const length = days >= 2 ? `${String(Math.round(days))} days` : `${String(Math.round(days * 24))} hours`
  const terminal = (process.stderr.isTTY as boolean | undefined) === true
  if (terminal && days > LONG_RANGE_DAYS && !yes) {
    throw new AppError('USAGE', `--from ${new Date(from).toISOString()} to ${givenTo === undefined ? 'now' : new Date(to).toISOString()} is ${length} of history: add --yes to replay it all, or narrow it with --to`)
  }
  if (givenTo === undefined) process.stderr.write(`replaying ${new Date(from).toISOString()} to now (${new Date(to).toISOString()}): ${length}\n`)
}

export function detectCommand(): Command {
  return withCommonOptions(new Command('detect'))
    .description('run the detectors: on their schedules until SIGINT or SIGTERM, once with --once, or over history with --from')
    .option('--once', 'run each detector once, for the window ending at --at, and exit')
    .option('--at <time>', 'end of the window for --once (ISO 8601; default: now)', parseInstant)
    .option('--from <time>', 'run every detector over history from this time, window by window as its schedule would have, and exit (ISO 8601)', parseInstant)
    .option('--to <time>', 'with --from: the end of that history (ISO 8601; default: now)', parseInstant)
    .option('--detector <id>', `a detector to run, repeatable (default: all: ${DETECTORS.map((d) => d.id).join(', ')})`, collect)
    .option('--json', 'with --once or --from: one JSON object per finding per line')
    .option('--yes', `with --from at a terminal: replay a range longer than ${String(LONG_RANGE_DAYS)} days without asking`)
    .action(async (options: DetectOptions) => {
      const oneOff = options.once === true || options.from !== undefined
      if (!oneOff && (options.at !== undefined || options.json || options.to !== undefined)) {
        throw new AppError('USAGE', '--at and --json go with --once, --to with --from; without them, detect runs on its schedules until stopped')
      }
      if (options.from !== undefined && options.at !== undefined) throw new AppError('USAGE', '--at is the end of one window; over a range, give --from and --to')
      const to = options.to ?? Date.now()
      if (options.from !== undefined && options.from >= to) throw new AppError('USAGE', `--from must be before --to (${new Date(to).toISOString()})`)
      if (options.from !== undefined) announceRange(options.from, options.to, to, options.yes === true)
      await withContext(options, async (context) => {
        const { settings, logger, store } = context
        const found = findDetectors(options.detector, (await configuredRules(context.store.client, context.config.rulesDir, logger)).detectors, settings)
        // Named on the command line, a detector runs though someone turned it off, as the detectors file allows.
        const off = options.detector?.length ? new Set<string>() : await switchedOff(store)
        const detectors = found.filter((d) => !off.has(d.id))
        if (!oneOff) {
          // Batches `trailwatch ingest` stores reach the immediate detectors within seconds, as in `run`.
          const scheduler = new DetectorScheduler(store, detectors, { settings, logger: logger.child({ command: 'detect' }), followStoredBatchesMs: 2_000 })
          scheduler.start()
          const ops = await serveOps(context)
          await untilStopSignal()
          await scheduler.stop()
          await ops.close()
          return
        }
        const now = new Date(options.from === undefined ? (options.at ?? Date.now()) : to)
        if (detectors.some((d) => d.id === 'stale-access-key')) {
          for (const warning of await laterReportWarnings(store, new Date(options.from ?? now.getTime()))) process.stderr.write(`${warning}\n`)
        }
        const findings: Finding[] = []
        if (options.from !== undefined) {
          findings.push(...(await replayHistory(store, detectors, { from: new Date(options.from), to: now }, settings, options)))
        } else {
          for (const detector of detectors) {
            findings.push(...(await runDetector(store, detector, { now, from: new Date(now.getTime() - durationMs(detector.window)) }, settings)))
          }
          await recordFindings(store, [{ findings, detectedAt: now }], now)
        }
        if (options.json) {
          const incidentOf = await incidentOfAlerts(store, findings.map((f) => f.alertId))
          for (const finding of findings) console.log(findingLine(finding, incidentOf.get(finding.alertId)))
        } else {
          for (const finding of findings) console.log(findingText(finding))
          const span = options.from === undefined ? `the window ending ${now.toISOString()}` : `${new Date(options.from).toISOString()} to ${now.toISOString()}`
          console.log(`${findings.length} findings from ${detectors.length} detectors for ${span}`)
        }
      }, { service: !oneOff })
    })
}

/**
 * detect --from: the range replayed with progress on a terminal, going on from where the same
 * command stopped before. SIGINT or SIGTERM stops it between two queries, with what was found stored.
 */
async function replayHistory(store: Store, detectors: Detector[], range: { from: Date; to: Date }, settings: Settings, options: DetectOptions): Promise<Finding[]> {
  const progress = new ProgressLine({ of: 'steps', counting: 'detector runs' })
  const stop = new AbortController()
  void untilStopSignal().then(() => {
    stop.abort()
  })
  const again = ['trailwatch detect', `--from ${range.from.toISOString()}`, `--to ${range.to.toISOString()}`, ...(options.detector ?? []).map((id) => `--detector ${id}`)].join(' ')
  try {
    return await detectRange(store, detectors, range, settings, LATENESS_MS, {
      signal: stop.signal,
      onProgress: (done, total) => {
        progress.update(done, total)
      },
      resume: (done, total) => {
        if (done > 0) process.stderr.write(`going on with the replay that stopped: ${String(done)} of ${String(total)} detector runs were done, and what they found is stored\n`)
      },
    })
  } catch (err) {
    if (!stop.signal.aborted) throw err
    throw new AppError('STOPPED', `stopped; what was found so far is stored, and the same command goes on from there: ${again}`)
  } finally {
    progress.clear()
  }
}

function ruleLine(rule: LoadedRule): string {
  return `${rule.detector.id}  ${rule.detector.severity.padEnd(8)} ${rule.type.padEnd(11)} ${rule.detector.title}  (${rule.author}; ${rule.file})`
}

export function rulesCommand(): Command {
  const pathsOrConfigured = (paths: string[]): string[] => (paths.length > 0 ? paths : rulePaths(loadConfig().rulesDir))
  const list = new Command('list')
    .description('the rules that load, one per line: id, level, type, title, author, file')
    .argument('[path...]', 'rule files or directories (default: the built-in rules and $TRAILWATCH_RULES_DIR)')
    .action((paths: string[]) => {
      const { rules, skipped } = loadRuleFiles(pathsOrConfigured(paths))
      for (const rule of rules) console.log(ruleLine(rule))
      // A rule that does not load is not silently missing from the list.
      for (const skip of skipped) console.log(`${skippedRuleLine(skip)}; skipped`)
      console.log(`${String(rules.length)} rules${skipped.length ? `, ${String(skipped.length)} skipped (trailwatch rules check says why)` : ''}`)
    })
  const check = new Command('check')
    .description('compile every rule; name each one skipped and each whose logic cannot mean what it says')
    .argument('[path...]', 'rule files or directories (default: the built-in rules and $TRAILWATCH_RULES_DIR)')
    .addHelpText('after', '\nExit status: 0 when every rule compiled, 1 when a rule was skipped. Warnings do not fail.')
    .action(async (paths: string[]) => {
      const { rules, skipped } = await withScratchStore((store) => checkRulePatterns(store.client, loadRuleFiles(pathsOrConfigured(paths))))
      for (const skip of skipped) console.log(`${skip.file}:${String(skip.line)}: skipped: ${skip.reason}`)
      const warned = rules.filter((rule) => rule.warnings.length > 0)
      for (const rule of warned) for (const warning of rule.warnings) console.log(`${rule.file}: warning: ${warning}`)
      console.log(`${String(rules.length + skipped.length)} rules: ${String(rules.length)} compiled, ${String(skipped.length)} skipped, ${String(warned.length)} with warnings`)
      if (skipped.length > 0) process.exitCode = 1
    })
  const test = new Command('test')
    .description('run each rule over its examples (beside rule.yml, rule.examples.json: per rule id or name, "match" and "miss" records) on the real engine')
    .argument('[path...]', 'rule files or directories (default: the built-in rules and $TRAILWATCH_RULES_DIR)')
    .addHelpText('after', '\nExit status: 0 when every rule with examples passed, 1 otherwise.')
    .action(async (paths: string[]) => {
      const { rules } = loadRuleFiles(pathsOrConfigured(paths))
      const progress = new ProgressLine({ of: 'steps', counting: 'rules' })
      const results = await testRules(rules, commandLogger(loadConfig(), false), (done, total) => {
        progress.update(done, total)
      }).finally(() => {
        progress.clear()
      })
      const tested = results.filter((r) => r.failures !== undefined)
      const failed = tested.filter((r) => (r.failures ?? []).length > 0)
      for (const result of tested) {
        console.log(`${result.failures?.length ? 'FAIL' : 'ok  '} ${result.rule.detector.id}  ${result.rule.detector.title} (${String(result.examples)} examples)`)
        for (const failure of result.failures ?? []) console.log(`     ${failure}`)
      }
      console.log(`${String(tested.length)} rules tested: ${String(tested.length - failed.length)} passed, ${String(failed.length)} failed; ${String(results.length - tested.length)} without examples`)
      if (failed.length > 0) process.exitCode = 1
    })
  return new Command('rules')
    .description('Sigma rules for CloudTrail and trailwatch rules, run beside the detectors (built in, and TRAILWATCH_RULES_DIR)')
    .addCommand(list)
    .addCommand(check)
    .addCommand(test)
    .addCommand(backtestCommand())
    .addCommand(switchCommand('disable', false))
    .addCommand(switchCommand('enable', true))
    .addCommand(coverageCommand())
}

/** `rules coverage`: the ATT&CK tactics and techniques the detectors and rules that run here look for. */
function coverageCommand(): Command {
  return withCommonOptions(new Command('coverage'))
    .description('the ATT&CK tactics and techniques the enabled detectors and rules look for (the detectors file and rules disable taken into account)')
    .option('--json', 'one JSON object: {tactics: [{tactic, techniques: [{technique, detectors}]}], unmapped}')
    .action(async (options: CommonOptions & { json?: boolean }) => {
      await withContext(options, async ({ store, config, logger, settings }) => {
        const off = await switchedOff(store)
        const running = findDetectors(undefined, (await configuredRules(store.client, config.rulesDir, logger)).detectors, settings).filter((d) => !off.has(d.id))
        const coverage = attackCoverage(running)
        if (options.json) {
          console.log(JSON.stringify(coverage))
          return
        }
        for (const { tactic, techniques } of coverage.tactics) {
          console.log(`${tactic} (${String(techniques.length)})`)
          for (const { technique, detectors } of techniques) console.log(`  ${technique.padEnd(10)} ${detectors.join(', ')}`)
        }
        const techniques = coverage.tactics.reduce((n, t) => n + t.techniques.length, 0)
        console.log(`${String(techniques)} techniques in ${String(coverage.tactics.length)} tactics from ${String(running.length)} detectors and rules; ${String(coverage.unmapped.length)} name none${coverage.unmapped.length ? ` (${coverage.unmapped.join(', ')})` : ''}`)
      })
    })
}

/** `rules disable|enable ID`: what the console's detectors page does, kept with who and why. */
function switchCommand(name: string, enabled: boolean): Command {
  return withCommonOptions(new Command(name))
    .description(`turn a detector or rule ${enabled ? 'on again' : 'off'} for run and detect, kept in the store with who and why (the console does the same)`)
    .argument('<id>', 'a detector id, or rule:ID as trailwatch rules list shows it')
    .requiredOption('--reason <text>', 'why: kept with the change')
    .option('--by <name>', 'who (default: $USER)')
    .action(async (id: string, options: CommonOptions & { reason: string; by?: string }) => {
      await withContext(options, async ({ store, config, logger }) => {
        const all = [...DETECTORS, ...(await configuredRules(store.client, config.rulesDir, logger)).detectors]
        if (!all.some((d) => d.id === id)) throw new AppError('USAGE', unknownDetector(id, all, all.length - DETECTORS.length))
        await switchDetector(store, { detector: id, enabled, actor: options.by ?? process.env.USER ?? 'unknown', reason: options.reason }, new Date())
        console.log(`${id} turned ${enabled ? 'on' : 'off'}: a running trailwatch follows within a minute`)
      })
    })
}

interface BacktestOptions extends CommonOptions {
  all?: boolean
  days: number
  from?: number
  to?: number
  json?: boolean
  store?: boolean
  yes?: boolean
}

/** The rules asked for by id (`ID` or `rule:ID`, as `rules list` shows them), or every rule with --all. */
function chosenRules(ids: string[], all: boolean, rules: Detector[]): Detector[] {
  if (all === ids.length > 0) throw new AppError('USAGE', 'name the rules to backtest, or --all for every one')
  if (all) return rules.filter((rule) => rule.id.startsWith('rule:'))
  return ids.map((id) => {
    const wanted = id.startsWith('rule:') ? id : `rule:${id}`
    const rule = rules.find((r) => r.id === wanted)
    if (!rule) throw new AppError('USAGE', unknownDetector(wanted, rules, rules.length))
    return rule
  })
}

function backtestCommand(): Command {
  return withCommonOptions(new Command('backtest'))
    .description('what rules would have found over history: a count per day and the findings, stored and alerted on only with --store')
    .argument('[rule...]', 'rule ids, as trailwatch rules list shows them')
    .option('--all', 'every rule')
    .option('--days <n>', 'the last N days before --to', parseDays, 30)
    .option('--from <time>', 'the start of the history instead of --days (ISO 8601)', parseInstant)
    .option('--to <time>', 'the end of the history (ISO 8601; default: now)', parseInstant)
    .option('--json', 'one JSON object per rule: id, title, days (each with its count), findings')
    .option('--store', 'store the findings and put them into incidents, as detect --from does')
    .option('--yes', `at a terminal: look at more than ${String(LONG_RANGE_DAYS)} days without asking`)
    .action(async (ids: string[], options: BacktestOptions) => {
      const to = options.to ?? Date.now()
      const from = options.from ?? to - options.days * 86_400_000
      if (from >= to) throw new AppError('USAGE', `--from must be before --to (${new Date(to).toISOString()})`)
      await withContext(options, async (context) => {
        const rules = chosenRules(ids, options.all === true, (await configuredRules(context.store.client, context.config.rulesDir, context.logger)).detectors)
        announceRange(from, options.to, to, options.yes === true)
        const progress = new ProgressLine({ of: 'steps', counting: 'rule runs' })
        const onProgress = (done: number, total: number) => {
          progress.update(done, total)
        }
        const results = await backtest(context.store, rules, { from: new Date(from), to: new Date(to) }, context.settings, { record: options.store === true, onProgress }).finally(() => {
          progress.clear()
        })
        for (const { detector, days, findings } of results) {
          if (options.json) {
            console.log(JSON.stringify({ id: detector.id, title: detector.title, days, findings: findings.map((f) => JSON.parse(findingLine(f, undefined)) as unknown) }))
            continue
          }
          console.log(`${detector.id}  ${textLine(detector.title)}: ${String(findings.length)} findings from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}`)
          for (const line of histogramLines(days)) console.log(`  ${line}`)
          for (const finding of findings) console.log(`  ${findingText(finding)}`)
        }
      })
    })
}
