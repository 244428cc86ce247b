import { htmlDocument, html } from '../html.js'
import { csv, headerText, plural, textLine, type Composed } from '../text.js'
import type { Attachment } from '../alerting/mailer.js'
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime } from '../time.js'
import { assessPosture, type PostureConfig } from '../iam/assessment.js'
import { conditionsOf, reachingAt, reachVerdict } from '../iam/reach.js'
import { SEVERITIES, type Severity } from '../severity.js'

export interface PostureLine {
  account: string
  severity: Severity
  check: string
  subject: string
  title: string
  /** Conditions that narrow the access, `; `-separated. */
  mitigations: string
  since: string
}

export interface PostureReport {
  at: string
  /** Accounts with an IAM snapshot in force at `at`: none means nothing was judged, not that all is well. */
  accounts: number
  /** The worst first. */
  findings: PostureLine[]
}

/** Every account's IAM posture at `at`, as the iam-posture and escalation-paths detectors see it, worst first. */
export async function iamPostureReport(store: Store, at: Date, config: PostureConfig): Promise<PostureReport> {
  const checked = (await assessPosture(store, at, config)).map(({ account, finding: f }) => ({ account, severity: f.severity, check: f.check, subject: f.subject, title: f.title, mitigations: f.mitigations.join('; '), since: f.since }))
  const reaching = (await reachingAt(store, at)).map(({ reach, since }) => ({ account: reach.account, ...reachVerdict(reach), check: 'escalation-path', subject: reach.principal, mitigations: conditionsOf(reach.path).join('; '), since }))
  const findings = [...checked, ...reaching]
  findings.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || a.account.localeCompare(b.account) || a.check.localeCompare(b.check) || a.title.localeCompare(b.title))
  const [snapshots] = await selectRows(store, 'SELECT uniqExact(account_id) AS accounts FROM iam_snapshots WHERE taken_at <= {at:DateTime64(3)}', { at: clickHouseTime(at.getTime()) }, z.object({ accounts: z.coerce.number() }))
  return { at: at.toISOString(), accounts: snapshots?.accounts ?? 0, findings }
}

const NO_SNAPSHOT = 'No IAM snapshot imported yet, so nothing was judged: trailwatch import iam FILE.json (the JSON of aws iam get-account-authorization-details)'

export function postureReportSummary(report: PostureReport): string[] {
  const accounts = new Set(report.findings.map((f) => f.account)).size
  const bySeverity = [...SEVERITIES].reverse().flatMap((s) => {
    const n = report.findings.filter((f) => f.severity === s).length
    return n ? [`${String(n)} ${s}`] : []
  })
  if (report.accounts === 0) return [NO_SNAPSHOT]
  return [`${plural(report.findings.length, 'finding')} in ${plural(accounts, 'account')}${bySeverity.length ? `: ${bySeverity.join(', ')}` : ''}`]
}

const COLUMNS: (keyof PostureLine)[] = ['account', 'severity', 'check', 'subject', 'title', 'mitigations', 'since']

export function postureReportCsv(report: PostureReport): string {
  return csv(report.findings, COLUMNS)
}

/** For a terminal: one line per finding, worst first, its mitigations under it. Names come from IAM: no control character reaches the terminal. */
export function postureReportText(report: PostureReport): string {
  return [
    `IAM posture report at ${report.at}`,
    ...postureReportSummary(report).map((s) => `  ${s}`),
    '',
    ...report.findings.flatMap((f) => [`${f.severity.toUpperCase().padEnd(8)} ${f.account}  ${f.check}  ${f.title}`, ...(f.mitigations ? [`         narrowed by: ${f.mitigations}`] : [])]),
    '',
  ]
    .map(textLine)
    .join('\n')
}

/** The weekly email: the summary, the findings worst first, every finding in the CSV attachment. */
export function composePostureEmail(report: PostureReport): { composed: Composed; attachments: Attachment[] } {
  const summary = postureReportSummary(report)
  const subject = headerText(`[trailwatch] IAM posture report ${report.at.slice(0, 10)}: ${summary[0] ?? ''}`)
  const text = [`IAM posture report at ${report.at}`, '', ...summary.map((s) => `- ${s}`), '', ...report.findings.map((f) => `  ${f.severity.toUpperCase()} · ${f.account} · ${f.title}${f.mitigations ? ` (narrowed by ${f.mitigations})` : ''}`), '']
    .map(textLine)
    .join('\n')
  const markup = htmlDocument(html`<h1 style="font-size:18px">IAM posture report, ${report.at}</h1>
<ul>${summary.map((s) => html`<li>${s}</li>`)}</ul>
<ul style="padding-left:20px;overflow-wrap:anywhere">${report.findings.map((f) => html`<li><strong>${f.severity.toUpperCase()}</strong> ${`${f.account} · ${f.title}`}${f.mitigations ? html`<br><span style="color:#555">narrowed by ${f.mitigations}</span>` : ''}</li>`)}</ul>
<p style="font-size:13px;color:#555">Every finding is in the attached CSV.</p>`)
  return { composed: { subject, text, html: markup }, attachments: [{ filename: `iam-posture-${report.at.slice(0, 10)}.csv`, contentType: 'text/csv', content: postureReportCsv(report) }] }
}
