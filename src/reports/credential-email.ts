import { htmlDocument, html, type Html } from '../html.js'
import { headerText, type Composed } from '../text.js'
import type { SuppressionRule } from '../alerting/suppressions.js'
import { credentialReportCsv, credentialReportSummary, credentialUsersCsv, type CredentialAgeReport } from './credential-age.js'
import type { Attachment } from '../alerting/mailer.js'

export interface SuppressedThisWeek {
  rule: SuppressionRule
  alerts: number
}

/** The weekly email: a summary, the keys that need action as a table, every key in the CSV attachment. */
export function composeCredentialEmail(report: CredentialAgeReport, suppressed: SuppressedThisWeek[]): { composed: Composed; attachments: Attachment[] } {
  const summary = credentialReportSummary(report)
  const needAction = report.keys.filter((k) => k.standing !== 'ok')
  const usersToFix = report.users.filter((u) => u.standing !== 'ok')
  const suppressedLines = suppressed.map(
    ({ rule, alerts }) => `${String(alerts)} alerts silenced by rule ${rule.rule_id} (${[rule.detector, rule.principal, rule.cidr, rule.account].filter(Boolean).join(', ')}); owner ${rule.owner}: ${rule.reason}; expires ${rule.expires_at.slice(0, 10)}`,
  )
  const cells = (k: CredentialAgeReport['keys'][number]): string[] => [
    k.account, k.user, k.access_key_id || '(unmatched)', k.age_days === null ? '?' : `${String(k.age_days)} d`,
    k.last_used ? k.last_used.slice(0, 10) : 'never', [k.last_address, k.last_region, k.last_service].filter(Boolean).join(' ') || '—', k.standing,
  ]
  const header = ['Account', 'User', 'Key', 'Age', 'Last used', 'Last from', 'Standing']
  const subject = headerText(`[trailwatch] credential-age report ${report.at.slice(0, 10)}: ${String(needAction.length)} keys need action`)
  const text = [
    `Credential-age report at ${report.at}`,
    '',
    ...summary.map((s) => `- ${s}`),
    '',
    `KEYS THAT NEED ACTION (${String(needAction.length)}; every key is in the attached CSV)`,
    ...needAction.map((k) => `  ${cells(k).join(' · ')}`),
    '',
    'USERS WHOSE PASSWORD NEEDS ACTION (every user is in the attached users CSV)',
    ...(usersToFix.length ? usersToFix.map((u) => `  ${u.account} · ${u.user} · ${u.standing}`) : ['  none']),
    '',
    'SUPPRESSED ALERTS THIS WEEK',
    ...(suppressedLines.length ? suppressedLines.map((l) => `  ${l}`) : ['  none']),
    '',
  ].join('\n')
  const td = (value: string): Html => html`<td style="padding:4px 8px;border-bottom:1px solid #eee">${value}</td>`
  const markup = htmlDocument(html`<h1 style="font-size:18px">Credential-age report, ${report.at}</h1>
<ul>${summary.map((s) => html`<li>${s}</li>`)}</ul>
<h2 style="font-size:16px">Keys that need action (${String(needAction.length)})</h2>
<div style="overflow-x:auto"><table style="border-collapse:collapse;font-size:13px">
<tr>${header.map((h) => html`<th style="text-align:left;padding:4px 8px">${h}</th>`)}</tr>
${needAction.map((k) => html`<tr>${cells(k).map(td)}</tr>`)}
</table></div>
<p style="font-size:13px;color:#555">Every key, including those in order, is in the attached CSV.</p>
<h2 style="font-size:16px">Users whose password needs action</h2>
<ul>${usersToFix.length ? usersToFix.map((u) => html`<li>${`${u.account} · ${u.user} · ${u.standing}`}</li>`) : html`<li>none</li>`}</ul>
<h2 style="font-size:16px">Suppressed alerts this week</h2>
<ul>${suppressedLines.length ? suppressedLines.map((l) => html`<li>${l}</li>`) : html`<li>none</li>`}</ul>`, 760)
  return {
    composed: { subject, text, html: markup },
    attachments: [
      { filename: `credential-report-${report.at.slice(0, 10)}.csv`, contentType: 'text/csv', content: credentialReportCsv(report) },
      { filename: `credential-users-${report.at.slice(0, 10)}.csv`, contentType: 'text/csv', content: credentialUsersCsv(report) },
    ],
  }
}
