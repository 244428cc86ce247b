import { readFileSync } from 'node:fs'
import type { Config } from './config.js'
import { ConfigError, issueLines } from './errors.js'
import { principalsFrom, principalsFromJson, type Principals } from './principals.js'
import { DayLearning } from './working-day.js'

/** What the operator configured in files beside the environment, read once when a command starts. */
export interface Settings {
  /** TRAILWATCH_DETECTORS_FILE: settings keyed by detector id. */
  detectors: Record<string, unknown>
  /** TRAILWATCH_PRINCIPALS_FILE: time zones and working hours; without it nobody has a time zone. */
  principals: Principals
}

export function loadSettings(config: Pick<Config, 'detectorsFile' | 'principalsFile'>): Settings {
  const read = readJson(config.detectorsFile, 'TRAILWATCH_DETECTORS_FILE') ?? {}
  if (typeof read !== 'object' || Array.isArray(read)) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE ${String(config.detectorsFile)}: expected an object keyed by detector id`)
  const detectors = read as Record<string, unknown>
  const learning = dayLearning(detectors, String(config.detectorsFile))
  const principals = config.principalsFile
    ? principalsFromJson(readJson(config.principalsFile, 'TRAILWATCH_PRINCIPALS_FILE'), `TRAILWATCH_PRINCIPALS_FILE ${config.principalsFile}`, learning)
    : principalsFrom({}, learning)
  return { detectors, principals }
}

/** How working days are learned, from the off-hours detector's settings: the console and the emails show the day it judged by. */
function dayLearning(detectors: Record<string, unknown>, file: string): DayLearning {
  const parsed = DayLearning.safeParse(detectors['off-hours-activity'] ?? {})
  if (!parsed.success) throw new ConfigError(`TRAILWATCH_DETECTORS_FILE ${file}: off-hours-activity:\n  ${issueLines(parsed.error).join('\n  ')}`)
  return parsed.data
}

function readJson(file: string | undefined, variable: string): unknown {
  if (!file) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ConfigError(`${variable} ${file}: ${(err as Error).message}`)
  }
}
