import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadAlertingSettings } from './alerting/settings.js'
import { loadConfig } from './config.js'
import { principalsFrom } from './principals.js'
import { loadSettings } from './settings.js'

const carol = 'arn:aws:iam::111122223333:user/carol'
const priya = 'arn:aws:iam::111122223333:user/in-priya'

describe('principals: one place for who works when, and where', () => {
  const principals = principalsFrom({
    defaults: { timezone: 'Europe/Berlin', holidays: ['2026-12-25'] },
    overrides: [
      { name: 'india team', principals: ['arn:aws:iam::*:user/in-*'], timezone: 'Asia/Kolkata', hours: [9, 18] },
      { principals: ['*'], days: [1, 2, 3, 4] },
    ],
  })

  it('takes the first override that matches, field by field over the defaults', () => {
    expect(principals.workingTimeOf(priya)).toEqual({ timezone: 'Asia/Kolkata', hours: [9, 18], days: [1, 2, 3, 4, 5], holidays: ['2026-12-25'], from: 'india team', configured: true })
    expect(principals.workingTimeOf(carol)).toEqual({ timezone: 'Europe/Berlin', hours: [8, 19], days: [1, 2, 3, 4], holidays: ['2026-12-25'], from: 'override', configured: true })
  })

  it('knows nobody’s time zone when nothing is configured', () => {
    expect(principalsFrom({}).workingTimeOf(carol)).toEqual({ timezone: undefined, hours: [8, 19], days: [1, 2, 3, 4, 5], holidays: [], from: 'defaults', configured: false })
  })
})

describe('loadSettings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-settings-'))
  const file = (name: string, content: string): string => {
    writeFileSync(path.join(dir, name), content)
    return path.join(dir, name)
  }

  it('reads the detectors and principals files once, into one object', () => {
    const settings = loadSettings({
      detectorsFile: file('detectors.json', '{"stale-access-key": {"rotationDays": 30}}'),
      principalsFile: file('principals.json', '{"overrides": [{"principals": ["*:user/carol"], "timezone": "America/Los_Angeles"}]}'),
    })
    expect(settings.detectors).toEqual({ 'stale-access-key': { rotationDays: 30 } })
    expect(settings.principals.workingTimeOf(carol).timezone).toBe('America/Los_Angeles')
  })

  it('learns working days as the off-hours detector is set to, so the console and the emails show its day', () => {
    const detectorsFile = file('off-hours.json', '{"off-hours-activity": {"marginHours": 2, "learnAfterDays": 20}}')
    expect(loadSettings({ detectorsFile, principalsFile: undefined }).principals.learning).toEqual({ marginHours: 2, learnAfterDays: 20, minDays: 3, usualDays: 2 })
    expect(loadSettings({ detectorsFile: undefined, principalsFile: undefined }).principals.learning).toEqual({ marginHours: 1, learnAfterDays: 10, minDays: 3, usualDays: 2 })
    const bad = file('bad-margin.json', '{"off-hours-activity": {"marginHours": 9}}')
    expect(() => loadSettings({ detectorsFile: bad, principalsFile: undefined })).toThrow(`TRAILWATCH_DETECTORS_FILE ${bad}: off-hours-activity:\n  marginHours: `)
  })

  it('names the variable, the file and the field that is wrong', () => {
    const principalsFile = file('bad-zone.json', '{"defaults": {"timezone": "Mars/Olympus"}}')
    expect(() => loadSettings({ detectorsFile: undefined, principalsFile })).toThrow(`TRAILWATCH_PRINCIPALS_FILE ${principalsFile}:\n  defaults.timezone: expected an IANA time zone such as Europe/Berlin`)
    expect(() => loadSettings({ detectorsFile: file('list.json', '[]'), principalsFile: undefined })).toThrow(/^TRAILWATCH_DETECTORS_FILE .*list\.json: expected an object keyed by detector id$/)
    expect(() => loadSettings({ detectorsFile: file('broken.json', '{'), principalsFile: undefined })).toThrow(/^TRAILWATCH_DETECTORS_FILE .*broken\.json: /)
  })

  it('says where time zones went when the alerting file still sets them', () => {
    const alertingFile = file('alerting.json', '{"timeZones": [{"principals": ["*"], "timezone": "Europe/Berlin"}]}')
    expect(() => loadAlertingSettings(loadConfig({ TRAILWATCH_ALERTING_FILE: alertingFile }))).toThrow(/timeZones: principals’ time zones are set in TRAILWATCH_PRINCIPALS_FILE now/)
  })
})
