import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectAt } from '../../test/helpers/detect.js'
import { ACCOUNT, apiCall, iamUser, ingestRecords, roleSession } from '../../test/helpers/events.js'
import { openTestStore, type TestStore } from '../../test/helpers/store.js'
import detector from './detector.js'

const signIn = (minute: number, who: Record<string, unknown>, result: string, additionalEventData: Record<string, unknown>) =>
  apiCall(Date.parse('2026-11-20T11:00:00Z') + minute * 60_000, who, '81.2.69.142', {
    eventSource: 'signin.amazonaws.com',
    eventName: 'ConsoleLogin',
    eventType: 'AwsConsoleSignIn',
    userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)',
    responseElements: { ConsoleLogin: result },
    additionalEventData,
  })

let store: TestStore
beforeAll(async () => {
  store = await openTestStore()
  await ingestRecords(store, [
    signIn(1, iamUser('dave'), 'Success', { MFAUsed: 'No', LoginTo: 'https://console.aws.amazon.com/' }),
    signIn(2, iamUser('erin'), 'Success', { MFAUsed: 'Yes' }),
    signIn(3, { type: 'IAMUser', principalId: 'AIDAFRANK', accountId: ACCOUNT, userName: 'frank' }, 'Failure', { MFAUsed: 'No' }),
    signIn(4, roleSession('AWSReservedSSO_Admin_0123456789abcdef', 'gina@example.com'), 'Success', { MFAUsed: 'No', SamlProviderArn: `arn:aws:iam::${ACCOUNT}:saml-provider/okta` }),
  ])
})
afterAll(async () => {
  await store.close()
})

it('reports a successful IAM user sign-in without MFA, and not MFA, failures or federated sign-ins', async () => {
  const findings = await detectAt(store, detector, '2026-11-20T12:00:00Z')
  expect(findings.map((f) => [f.principal, f.severity, f.evidence.country])).toEqual([[`arn:aws:iam::${ACCOUNT}:user/dave`, 'medium', 'GB']])
})
