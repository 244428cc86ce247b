import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiCall, daily, iamUser, ingestRecords } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { principalsFrom } from '../principals.js'
import { DayLearning } from '../working-day.js'
import { knownWorkingTime } from './working-time.js'

const NOW = Date.parse('2026-11-24T12:00:00Z')
const arn = (name: string) => `arn:aws:iam::111122223333:user/${name}`

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    // nina works 9:00–17:00 in New York (14–22 UTC in November), from a US address, for three weeks.
    ...Array.from({ length: 8 }, (_, h) => daily(21, NOW, 14 + h, (t) => apiCall(t, iamUser('nina'), '98.207.1.1'))).flat(),
    // otto has five days.
    ...daily(5, NOW, 9, (t) => apiCall(t, iamUser('otto'), '98.207.1.1')),
  ])
})
afterAll(async () => {
  await store.close()
})

describe('knownWorkingTime', () => {
  it('infers the clock of someone nobody configured from their hours and country, with the day learned on it', async () => {
    const nina = await knownWorkingTime(store, principalsFrom({}), arn('nina'), new Date(NOW))
    expect(nina).toMatchObject({ zone: 'America/New_York', source: 'inferred', historyDays: 21, country: 'US' })
    expect(nina.day?.weekday).toEqual([8, 18])
  })

  it('keeps a configured zone, and infers none from too little history', async () => {
    const configured = principalsFrom({ overrides: [{ principals: ['*:user/nina'], timezone: 'Europe/Lisbon' }] })
    expect(await knownWorkingTime(store, configured, arn('nina'), new Date(NOW))).toMatchObject({ zone: 'Europe/Lisbon', source: 'configured' })
    expect(await knownWorkingTime(store, principalsFrom({}), arn('otto'), new Date(NOW))).toMatchObject({ zone: 'UTC', source: 'none', historyDays: 5 })
  })

  it('learns as the off-hours detector is set to: the days it waits for and the margin it gives', async () => {
    const wider = await knownWorkingTime(store, principalsFrom({}, DayLearning.parse({ marginHours: 2 })), arn('nina'), new Date(NOW))
    expect(wider.day?.weekday).toEqual([7, 19])
    const patient = await knownWorkingTime(store, principalsFrom({}, DayLearning.parse({ learnAfterDays: 28 })), arn('nina'), new Date(NOW))
    expect(patient).toMatchObject({ zone: 'UTC', source: 'none', historyDays: 21 })
  })
})
