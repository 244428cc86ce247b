import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { STRATUS } from './helpers/datasets.js'

const ROOT = path.resolve(import.meta.dirname, '..')

/** Stratus Red Team's AWS techniques (catalogue/stratus-techniques, Apache-2.0). */
export const STRATUS_TECHNIQUES = z
  .array(z.object({ id: z.string(), name: z.string(), tactics: z.array(z.string()) }))
  .parse(JSON.parse(readFileSync(path.join(ROOT, 'catalogue/stratus-techniques/techniques.json'), 'utf8')))

/**
 * Captures of the techniques Stratus publishes no detonation log for, written here to the record
 * shapes its documentation and AWS's give (test/fixtures/stratus-techniques/README.md).
 */
export const WRITTEN_CAPTURES = path.join(ROOT, 'test/fixtures/stratus-techniques')

export interface Coverage {
  technique: string
  /** The detector, or `rule:<id>`, that must find it. */
  detector: string
  /** The event the finding must name. */
  event: string
}

/** Which detector or rule finds each technique, and by which event: `test/threat-datasets.test.ts` proves each. */
export const STRATUS_COVERAGE: Coverage[] = [
  ['aws.credential-access.ec2-get-password-data', 'rule:trailwatch-ec2-password-data-many', 'GetPasswordData'],
  ['aws.credential-access.ec2-steal-instance-credentials', 'rule:trailwatch-instance-credentials-used-by-operator', 'GetCallerIdentity'],
  ['aws.credential-access.secretsmanager-batch-retrieve-secrets', 'rule:trailwatch-secrets-batch-read-by-filter', 'BatchGetSecretValue'],
  ['aws.credential-access.secretsmanager-retrieve-secrets', 'rule:trailwatch-secrets-many-read', 'GetSecretValue'],
  ['aws.credential-access.ssm-retrieve-securestring-parameters', 'rule:trailwatch-ssm-parameters-listed-then-decrypted', 'GetParameters'],
  ['aws.defense-evasion.cloudtrail-delete', 'cloudtrail-tampering', 'DeleteTrail'],
  ['aws.defense-evasion.cloudtrail-event-selectors', 'cloudtrail-tampering', 'PutEventSelectors'],
  ['aws.defense-evasion.cloudtrail-lifecycle-rule', 'rule:trailwatch-s3-lifecycle-short-expiry', 'PutBucketLifecycle'],
  ['aws.defense-evasion.cloudtrail-stop', 'cloudtrail-tampering', 'StopLogging'],
  ['aws.defense-evasion.dns-delete-logs', 'cloudtrail-tampering', 'DeleteResolverQueryLogConfig'],
  ['aws.defense-evasion.organizations-leave', 'cloudtrail-tampering', 'LeaveOrganization'],
  ['aws.defense-evasion.vpc-remove-flow-logs', 'cloudtrail-tampering', 'DeleteFlowLogs'],
  ['aws.discovery.ec2-download-user-data', 'rule:trailwatch-ec2-user-data-read-many', 'DescribeInstanceAttribute'],
  ['aws.discovery.ec2-enumerate-from-instance', 'rule:trailwatch-instance-role-discovery', 'GetAccountAuthorizationDetails'],
  ['aws.discovery.ses-enumerate', 'rule:trailwatch-ses-enumerated', 'GetSendQuota'],
  ['aws.execution.ec2-launch-unusual-instances', 'rule:trailwatch-ec2-unusual-instance-type', 'RunInstances'],
  ['aws.execution.ec2-user-data', 'rule:trailwatch-ec2-user-data-changed', 'ModifyInstanceAttribute'],
  ['aws.execution.sagemaker-update-lifecycle-config', 'rule:trailwatch-sagemaker-notebook-lifecycle-run', 'UpdateNotebookInstance'],
  ['aws.execution.ssm-send-command', 'rule:trailwatch-ssm-command-new-principal', 'SendCommand'],
  ['aws.execution.ssm-start-session', 'rule:trailwatch-ssm-command-new-principal', 'StartSession'],
  ['aws.exfiltration.ec2-security-group-open-port-22-ingress', 'rule:trailwatch-security-group-open-admin-port', 'AuthorizeSecurityGroupIngress'],
  ['aws.exfiltration.ec2-share-ami', 'rule:trailwatch-ami-shared', 'ModifyImageAttribute'],
  ['aws.exfiltration.ec2-share-ebs-snapshot', 'rule:trailwatch-ebs-snapshot-shared', 'ModifySnapshotAttribute'],
  ['aws.exfiltration.rds-share-snapshot', 'rule:trailwatch-rds-snapshot-shared', 'ModifyDBSnapshotAttribute'],
  ['aws.exfiltration.s3-backdoor-bucket-policy', 'rule:trailwatch-bucket-policy-other-account', 'PutBucketPolicy'],
  ['aws.impact.bedrock-invoke-model', 'rule:trailwatch-bedrock-invoke-new-region', 'InvokeModel'],
  ['aws.impact.ec2-deregister-ami', 'rule:trailwatch-ami-deregistered', 'DeregisterImage'],
  ['aws.impact.s3-ransomware-batch-deletion', 'rule:trailwatch-s3-versions-listed-then-deleted', 'DeleteObjects'],
  ['aws.impact.s3-ransomware-client-side-encryption', 'rule:trailwatch-s3-sse-c-rewrites', 'CopyObject'],
  ['aws.impact.s3-ransomware-individual-deletion', 'rule:trailwatch-s3-object-versions-deleted-many', 'DeleteObject'],
  ['aws.initial-access.console-login-without-mfa', 'console-login-without-mfa', 'ConsoleLogin'],
  ['aws.lateral-movement.ec2-instance-connect', 'rule:trailwatch-instance-connect-new-principal', 'SendSSHPublicKey'],
  ['aws.lateral-movement.ec2-serial-console-send-ssh-public-key', 'rule:trailwatch-serial-console-enabled', 'EnableSerialConsoleAccess'],
  ['aws.persistence.iam-backdoor-role', 'iam-privilege-escalation', 'UpdateAssumeRolePolicy'],
  ['aws.persistence.iam-backdoor-user', 'iam-privilege-escalation', 'CreateAccessKey'],
  ['aws.persistence.iam-create-admin-user', 'iam-privilege-escalation', 'AttachUserPolicy'],
  ['aws.persistence.iam-create-backdoor-role', 'iam-privilege-escalation', 'AttachRolePolicy'],
  ['aws.persistence.iam-create-user-login-profile', 'iam-privilege-escalation', 'CreateLoginProfile'],
  ['aws.persistence.lambda-backdoor-function', 'rule:trailwatch-lambda-public', 'AddPermission20150331v2'],
  ['aws.persistence.lambda-layer-extension', 'rule:trailwatch-lambda-code-new-principal', 'UpdateFunctionConfiguration20150331v2'],
  ['aws.persistence.lambda-overwrite-code', 'rule:trailwatch-lambda-code-new-principal', 'UpdateFunctionCode20150331v2'],
  ['aws.persistence.rolesanywhere-create-trust-anchor', 'rule:trailwatch-rolesanywhere-trust-anchor', 'CreateTrustAnchor'],
  ['aws.persistence.sts-federation-token', 'rule:trailwatch-federation-token-new-principal', 'GetFederationToken'],
  ['aws.privilege-escalation.iam-update-user-login-profile', 'iam-privilege-escalation', 'UpdateLoginProfile'],
].map(([technique, detector, event]) => ({ technique, detector, event }) as Coverage)

/** Where a technique's capture is: Stratus' own detonation log, else one written here; undefined when neither exists. */
export function captureOf(technique: string): { file: string; written: boolean } | undefined {
  const detonation = path.join(STRATUS, `${technique}.json`)
  if (existsSync(detonation)) return { file: detonation, written: false }
  const written = path.join(WRITTEN_CAPTURES, `${technique}.json`)
  return existsSync(written) ? { file: written, written: true } : undefined
}

export const TABLE_START = '<!-- stratus-coverage: generated by npm run coverage:table -->'
export const TABLE_END = '<!-- /stratus-coverage -->'

/** The README's coverage table: each Stratus technique, what finds it, its capture and its test. */
export function coverageTable(): string {
  const rows = STRATUS_TECHNIQUES.map((t) => {
    const covered = STRATUS_COVERAGE.find((c) => c.technique === t.id)
    const capture = captureOf(t.id)
    const finder = covered ? `\`${covered.detector}\` (${covered.event})` : '**none**'
    const where = capture ? (capture.written ? 'written to the documented shapes' : 'Stratus detonation log') : '**none**'
    const test = covered && capture ? `\`${t.id} is found by ${covered.detector}\`` : '**none**'
    return `| \`${t.id}\` ${t.name} | ${t.tactics.join(', ')} | ${finder} | ${where} | ${test} |`
  })
  return [
    TABLE_START,
    '| Stratus technique | ATT&CK tactics | found by (event) | capture | test in `test/threat-datasets.test.ts` |',
    '|---|---|---|---|---|',
    ...rows,
    TABLE_END,
  ].join('\n')
}
