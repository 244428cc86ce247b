import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../src/cli/context.js'
import { serveOps } from '../src/cli/ops.js'
import { collect, parseInstant, untilStopSignal } from '../src/cli/options.js'
import { AppError } from '../src/errors.js'
import { durationMs, type Finding } from './define.js'
import { runDetector, storeFindings } from './engine.js'
import { DETECTORS, findDetectors } from './registry.js'
import { DetectorScheduler } from './scheduler.js'

interface DetectOptions extends CommonOptions {
  once?: boolean
  at?: number
  detector?: string[]
  json?: boolean
}

/** The contract of `detect --json`: one object per finding per line. */
function findingLine(finding: Finding): string {
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
  })
}

export function detectCommand(): Command {
  return withCommonOptions(new Command('detect'))
    .description('run the detectors: on their schedules until SIGINT or SIGTERM, or once with --once')
    .option('--once', 'run each detector once, for the window ending at --at, and exit')
    .option('--at <time>', 'end of the window for --once (ISO 8601; default: now)', parseInstant)
    .option('--detector <id>', `a detector to run, repeatable (default: all: ${DETECTORS.map((d) => d.id).join(', ')})`, collect)
    .option('--json', 'with --once: one JSON object per finding per line')
    .action(async (options: DetectOptions) => {
      if (!options.once && (options.at !== undefined || options.json)) {
        throw new AppError('USAGE', '--at and --json go with --once; without it, detect runs on its schedules until stopped')
      }
      const detectors = findDetectors(options.detector)
      await withContext(options, async (context) => {
        const { settings, logger, store } = context
        if (!options.once) {
          const scheduler = new DetectorScheduler(store, detectors, { settings, logger: logger.child({ command: 'detect' }) })
          scheduler.start()
          const ops = await serveOps(context)
          await untilStopSignal()
          await scheduler.stop()
          await ops.close()
          return
        }
        const now = new Date(options.at ?? Date.now())
        const findings: Finding[] = []
        for (const detector of detectors) {
          const found = await runDetector(store, detector, { now, from: new Date(now.getTime() - durationMs(detector.window)) }, settings)
          await storeFindings(store, found, now)
          findings.push(...found)
        }
        if (options.json) {
          for (const finding of findings) console.log(findingLine(finding))
        } else {
          for (const finding of findings) console.log(`${finding.severity.toUpperCase().padEnd(8)} ${finding.detector}  ${finding.title}`)
          console.log(`${findings.length} findings from ${detectors.length} detectors for the window ending ${now.toISOString()}`)
        }
      }, { service: !options.once })
    })
}
