import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ACCOUNT, apiCall, daily, iamUser, ingestRecords, roleSession, type RawEvent } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import { testSettings } from '../../test/helpers/detect.js'
import { runDetector } from '../engine.js'
import detector from './detector.js'

const NOW = Date.parse('2026-11-20T12:00:00Z')
const inWindow = (minutesAgo: number) => NOW - minutesAgo * 60_000
const arn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  const records: RawEvent[] = []
  const history = (who: RawEvent, ip: string, days = 20) => records.push(...daily(days, NOW, 14, (at) => apiCall(at, who, ip)))

  // alice: Comcast at home for weeks; today another Comcast address.
  history(iamUser('alice'), '73.15.20.1')
  records.push(apiCall(inWindow(30), iamUser('alice'), '73.210.4.9'))
  // bob: Comcast, today Verizon, same country.
  history(iamUser('bob'), '73.15.20.2')
  records.push(apiCall(inWindow(20), iamUser('bob'), '108.28.1.1'))
  // jane: Comcast, today Verizon at the console with MFA, same country; kim the same from Russia.
  const consoleWithMfa = (who: RawEvent) => ({ ...who, sessionContext: { attributes: { mfaAuthenticated: 'true', creationDate: new Date(inWindow(30)).toISOString() } } })
  history(iamUser('jane'), '73.15.20.9')
  records.push(apiCall(inWindow(20), consoleWithMfa(iamUser('jane')), '108.28.1.2', { sessionCredentialFromConsole: 'true' }))
  history(iamUser('kim'), '73.15.20.10')
  records.push(apiCall(inWindow(20), consoleWithMfa(iamUser('kim')), '5.255.255.78', { sessionCredentialFromConsole: 'true' }))
  // carol: today from a Russian network.
  history(iamUser('carol'), '98.207.1.1')
  records.push(apiCall(inWindow(10), iamUser('carol'), '5.255.255.77'))
  // dave: a long-term key, today from Germany.
  history(iamUser('dave', 'AKIADAVEEXAMPLE00001'), '24.6.1.1')
  records.push(apiCall(inWindow(15), iamUser('dave', 'AKIADAVEEXAMPLE00001'), '185.220.101.1'))
  // An instance role, always from AWS; today its session is used from a British ISP.
  history(roleSession('app-runtime', 'i-0abc1234def567890', { ec2RoleDelivery: '2.0' }), '3.90.1.1')
  records.push(apiCall(inWindow(5), roleSession('app-runtime', 'i-0abc1234def567890', { ec2RoleDelivery: '2.0' }), '81.2.69.142'))

  // Traps. AWS acting for the account, from its hostname and from AWS Internal.
  history(iamUser('erin'), '73.15.20.3')
  records.push(apiCall(inWindow(25), { ...iamUser('erin'), invokedBy: 'cloudformation.amazonaws.com' }, 'cloudformation.amazonaws.com'))
  records.push(apiCall(inWindow(26), { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' }, 'ec2.amazonaws.com'))
  records.push(apiCall(inWindow(24), { ...iamUser('erin'), invokedBy: 'AWS Internal' }, 'AWS Internal'))
  // A failed sign-in from a new country is not use.
  records.push(
    apiCall(inWindow(40), { type: 'IAMUser', principalId: 'AIDAALICE', accountId: ACCOUNT, accessKeyId: '', userName: 'alice' }, '5.255.255.77', {
      eventSource: 'signin.amazonaws.com',
      eventName: 'ConsoleLogin',
      eventType: 'AwsConsoleSignIn',
      errorMessage: 'Failed authentication',
      responseElements: { ConsoleLogin: 'Failure' },
    }),
  )
  // A newcomer with two days of history: too little to judge.
  history(iamUser('newcomer'), '73.15.20.4', 2)
  records.push(apiCall(inWindow(5), iamUser('newcomer'), '5.255.255.77'))
  // frank works from an allowlisted partner office; gina's allowance expired.
  history(iamUser('frank'), '73.15.20.5')
  records.push(apiCall(inWindow(5), iamUser('frank'), '49.36.1.1'))
  history(iamUser('gina'), '73.15.20.6')
  // ivan uses his CLI key from home; today his ISP gave him another address.
  history(iamUser('ivan', 'AKIAIVANEXAMPLE00001'), '73.15.20.8')
  records.push(apiCall(inWindow(15), iamUser('ivan', 'AKIAIVANEXAMPLE00001'), '73.210.4.10'))
  // harry used Verizon once, 40 days ago, and will again after the window: neither is in a 30-day baseline as of now.
  history(iamUser('harry'), '73.15.20.7')
  records.push(apiCall(NOW - 40 * 86_400_000, iamUser('harry'), '108.28.9.9'))
  records.push(apiCall(inWindow(20), iamUser('harry'), '108.28.9.9'))
  records.push(apiCall(NOW + 5 * 3_600_000, iamUser('harry'), '108.28.9.9'))
  records.push(apiCall(inWindow(5), iamUser('gina'), '106.51.1.1'))
  // olga: Comcast; today a hosting provider's machine in the same country. pete always works through a cloud VPN; today another cloud's.
  history(iamUser('olga'), '73.15.20.11')
  records.push(apiCall(inWindow(10), iamUser('olga'), '3.90.7.7'))
  history(iamUser('pete'), '3.90.1.2')
  records.push(apiCall(inWindow(10), iamUser('pete'), '20.42.1.1'))
  // A GitHub Actions workflow's OIDC role: a new runner address for every job, on Microsoft's network; today one from elsewhere.
  const workflow = roleSession('github-deploy', 'GitHubActions', { webIdFederationData: { federatedProvider: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` } })
  history(workflow, '20.42.1.5')
  records.push(apiCall(inWindow(10), workflow, '52.234.7.7'))
  records.push(apiCall(inWindow(5), workflow, '5.255.255.79'))
  // quinn's stolen key on an Azure machine, naming GitHub's provider where a caller may write: still quinn on a new network.
  history(iamUser('quinn'), '73.15.20.12')
  records.push(apiCall(inWindow(10), iamUser('quinn'), '52.234.8.8', { userAgent: 'token.actions.githubusercontent.com', requestParameters: { bucketName: 'token.actions.githubusercontent.com' } }))
  await ingestRecords(store, records)
})
afterAll(async () => {
  await store.close()
})

const settings = testSettings({
  'unusual-source-ip': {
    allowCidrs: [
      { cidr: '49.36.0.0/16', owner: 'it@example.com', reason: 'partner office in Mumbai', expires: '2027-01-01T00:00:00Z' },
      { cidr: '106.51.0.0/16', owner: 'it@example.com', reason: 'offsite in Bengaluru', expires: '2026-11-01T00:00:00Z' },
    ],
  },
})

describe('unusual-source-ip', () => {
  it('reports new networks with severity following novelty, and stays quiet on the traps', async () => {
    const findings = await runDetector(store, detector, { now: new Date(NOW), from: new Date(NOW - 3_600_000) }, settings)
    const bySeverity = Object.fromEntries(findings.map((f) => [f.principal, f.severity]))
    expect(bySeverity).toEqual({
      [arn('alice')]: 'low', // same ISP, new address: not emailed
      [arn('bob')]: 'medium', // new network, same country
      [arn('jane')]: 'low', // new network, same country, at the console with MFA
      [arn('kim')]: 'high', // MFA at the console does not make a new country ordinary
      [arn('carol')]: 'high', // new country
      [arn('dave')]: 'critical', // new country with a long-term key
      [`arn:aws:iam::${ACCOUNT}:role/app-runtime`]: 'critical', // instance role outside AWS, new country
      [arn('gina')]: 'high', // the allowance expired
      [arn('ivan')]: 'low', // a long-term key from the usual ISP: not raised
      [arn('harry')]: 'medium', // back on a network last used before the baseline; later use does not count
      [arn('olga')]: 'high', // a hosting provider, a kind of network she never used
      [arn('pete')]: 'medium', // a new network of the kind he always uses
      [arn('quinn')]: 'high', // a hosting provider, a kind he never used; the provider's name in his call is not a workflow's identity
      [`arn:aws:iam::${ACCOUNT}:role/github-deploy`]: 'high', // a workflow's session from outside GitHub's runners; its new runner address is not reported
    })
    expect(findings.filter((f) => f.principal.endsWith('role/github-deploy')).map((f) => f.evidence.address)).toEqual(['5.255.255.79'])
    expect(findings.find((f) => f.principal === arn('olga'))?.title).toMatch(/through a hosting provider, a kind of network it has not used$/)
    const carol = findings.find((f) => f.principal === arn('carol'))
    expect(carol?.evidence).toMatchObject({ address: '5.255.255.77', country: 'RU', asn: 13238, baseline: { countries: ['US'], addresses: 1, same_network: false } })
    expect(carol?.title).toMatch(/a country it has not acted from \(RU\)/)
    const instanceRole = findings.find((f) => f.principal.endsWith('app-runtime'))
    expect(instanceRole?.evidence).toMatchObject({ instance_role_outside_aws: true })
    // An instance has nobody to ask; a person does.
    expect(instanceRole?.runbook.join(' ')).toContain('revoke the role’s sessions issued before now')
    expect(instanceRole?.runbook.join(' ')).not.toContain('Ask the person')
    expect(carol?.runbook[0]).toMatch(/Ask the person/)
  })

  it('finds nothing once the new address is part of the baseline window', async () => {
    const later = NOW + 2 * 3_600_000
    const findings = await runDetector(store, detector, { now: new Date(later), from: new Date(later - 3_600_000) }, settings)
    expect(findings).toEqual([])
  })

  it('gives the same finding the same alert id on every run', async () => {
    const run = () => runDetector(store, detector, { now: new Date(NOW), from: new Date(NOW - 3_600_000) }, settings)
    const [first, second] = [await run(), await run()]
    expect(first.map((f) => f.alertId)).toEqual(second.map((f) => f.alertId))
    expect(new Set(first.map((f) => f.alertId)).size).toBe(first.length)
  })
})
