/**
 * The changes containment makes to one identity in IAM, each read before it is made so that an undo
 * puts back exactly what was there: a key's status, an inline policy of trailwatch's name (or its
 * absence), a console password's existence, a managed policy's attachment.
 */
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateLoginProfileCommand,
  DeleteLoginProfileCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetLoginProfileCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  ListAccessKeysCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { randomBytes } from 'node:crypto'
import { AppError } from '../errors.js'

export const CONTAIN_ACTIONS = ['deactivate-key', 'revoke-sessions', 'remove-password', 'detach-policy', 'quarantine'] as const
export type ContainAction = (typeof CONTAIN_ACTIONS)[number]

/** A user or role, as IAM names it. */
export interface Identity {
  kind: 'user' | 'role'
  account: string
  name: string
  arn: string
}

/** The inline policies containment writes, by name: its own, so an undo never touches anyone else's. */
export const POLICY_NAMES = { 'revoke-sessions': 'trailwatch-revoke-sessions', quarantine: 'trailwatch-quarantine' } as const

/** One reversible change, with the state it replaces. */
export type Change =
  | { action: 'deactivate-key'; identity: Identity; key: string; before: { status: 'Active' | 'Inactive' } }
  | { action: 'revoke-sessions' | 'quarantine'; identity: Identity; policyName: string; document: string; issuedBefore?: string | undefined; before: { document: string | null } }
  | { action: 'remove-password'; identity: Identity; before: { resetRequired: boolean } }
  | { action: 'detach-policy'; identity: Identity; policyArn: string; before: { attached: true } }

/** Deny every action; with `issuedBefore`, only to credentials issued before then (AWS's own "revoke active sessions"). */
function denyAll(issuedBefore?: Date): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: issuedBefore ? 'TrailwatchRevokeOlderSessions' : 'TrailwatchQuarantine',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        ...(issuedBefore ? { Condition: { DateLessThan: { 'aws:TokenIssueTime': issuedBefore.toISOString() } } } : {}),
      },
    ],
  })
}

function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err && typeof err.name === 'string' ? err.name : ''
}

/** IAM answers NoSuchEntity for a policy, profile or key that is not there: that is a state, not a failure. */
async function unlessMissing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read
  } catch (err) {
    if (errorName(err) === 'NoSuchEntity' || errorName(err) === 'NoSuchEntityException') return undefined
    throw err
  }
}

/** IAM returns policy documents URL-encoded. */
function policyText(document: string | undefined): string | null {
  return document === undefined ? null : decodeURIComponent(document)
}

async function inlinePolicy(iam: IAMClient, identity: Identity, policyName: string): Promise<string | null> {
  const found =
    identity.kind === 'user'
      ? await unlessMissing(iam.send(new GetUserPolicyCommand({ UserName: identity.name, PolicyName: policyName })))
      : await unlessMissing(iam.send(new GetRolePolicyCommand({ RoleName: identity.name, PolicyName: policyName })))
  return policyText(found?.PolicyDocument)
}

async function putInlinePolicy(iam: IAMClient, identity: Identity, policyName: string, document: string): Promise<void> {
  if (identity.kind === 'user') await iam.send(new PutUserPolicyCommand({ UserName: identity.name, PolicyName: policyName, PolicyDocument: document }))
  else await iam.send(new PutRolePolicyCommand({ RoleName: identity.name, PolicyName: policyName, PolicyDocument: document }))
}

async function deleteInlinePolicy(iam: IAMClient, identity: Identity, policyName: string): Promise<void> {
  if (identity.kind === 'user') await iam.send(new DeleteUserPolicyCommand({ UserName: identity.name, PolicyName: policyName }))
  else await iam.send(new DeleteRolePolicyCommand({ RoleName: identity.name, PolicyName: policyName }))
}

async function attachedPolicies(iam: IAMClient, identity: Identity): Promise<string[]> {
  const listed =
    identity.kind === 'user'
      ? await iam.send(new ListAttachedUserPoliciesCommand({ UserName: identity.name, MaxItems: 1000 }))
      : await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: identity.name, MaxItems: 1000 }))
  return (listed.AttachedPolicies ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : []))
}

/**
 * The change an action makes to the identity as it stands now, read from IAM; refused, with why,
 * when it does not apply (a role has no password, a key is another user's, a policy is not attached).
 */
export async function planChange(iam: IAMClient, identity: Identity, action: ContainAction, options: { key?: string | undefined; policyArn?: string | undefined; now: Date }): Promise<Change> {
  switch (action) {
    case 'deactivate-key': {
      if (identity.kind !== 'user' || !options.key) throw new AppError('USAGE', 'deactivate-key needs an access key of a user: trailwatch contain key KEY_ID')
      const keys = (await iam.send(new ListAccessKeysCommand({ UserName: identity.name }))).AccessKeyMetadata ?? []
      const key = keys.find((k) => k.AccessKeyId === options.key)
      if (!key) throw new AppError('USAGE', `user ${identity.name} has no access key ${options.key}`)
      return { action, identity, key: options.key, before: { status: key.Status === 'Inactive' ? 'Inactive' : 'Active' } }
    }
    case 'revoke-sessions':
    case 'quarantine': {
      const policyName = POLICY_NAMES[action]
      const issuedBefore = action === 'revoke-sessions' ? options.now : undefined
      return { action, identity, policyName, document: denyAll(issuedBefore), issuedBefore: issuedBefore?.toISOString(), before: { document: await inlinePolicy(iam, identity, policyName) } }
    }
    case 'remove-password': {
      if (identity.kind !== 'user') throw new AppError('USAGE', `a role has no console password: ${identity.arn}`)
      const profile = await unlessMissing(iam.send(new GetLoginProfileCommand({ UserName: identity.name })))
      if (!profile) throw new AppError('USAGE', `user ${identity.name} has no console password`)
      return { action, identity, before: { resetRequired: profile.LoginProfile?.PasswordResetRequired ?? false } }
    }
    case 'detach-policy': {
      if (!options.policyArn) throw new AppError('USAGE', 'detach-policy needs --policy ARN: the managed policy to detach')
      if (!(await attachedPolicies(iam, identity)).includes(options.policyArn)) throw new AppError('USAGE', `${options.policyArn} is not attached to ${identity.arn}`)
      return { action, identity, policyArn: options.policyArn, before: { attached: true } }
    }
  }
}

/** The change in words, as a dry run prints it and the audit keeps it. */
export function describeChange(change: Change): string {
  const who = `${change.identity.kind} ${change.identity.name} (account ${change.identity.account})`
  switch (change.action) {
    case 'deactivate-key':
      return change.before.status === 'Inactive' ? `access key ${change.key} of ${who} is inactive already: nothing to change` : `deactivate access key ${change.key} of ${who}`
    case 'revoke-sessions':
      return `put inline policy ${change.policyName} on ${who}: deny every action to credentials issued before ${change.issuedBefore ?? ''}${change.before.document ? ' (replacing the one there)' : ''}`
    case 'quarantine':
      return `put inline policy ${change.policyName} on ${who}: deny every action${change.before.document ? ' (replacing the one there)' : ''}`
    case 'remove-password':
      return `delete the console password of ${who} (an undo gives a new one that must be reset: AWS never shows the old)`
    case 'detach-policy':
      return `detach ${change.policyArn} from ${who}`
  }
}

export async function applyChange(iam: IAMClient, change: Change): Promise<void> {
  const { identity } = change
  switch (change.action) {
    case 'deactivate-key':
      await iam.send(new UpdateAccessKeyCommand({ UserName: identity.name, AccessKeyId: change.key, Status: 'Inactive' }))
      return
    case 'revoke-sessions':
    case 'quarantine':
      await putInlinePolicy(iam, identity, change.policyName, change.document)
      return
    case 'remove-password':
      await iam.send(new DeleteLoginProfileCommand({ UserName: identity.name }))
      return
    case 'detach-policy':
      if (identity.kind === 'user') await iam.send(new DetachUserPolicyCommand({ UserName: identity.name, PolicyArn: change.policyArn }))
      else await iam.send(new DetachRolePolicyCommand({ RoleName: identity.name, PolicyArn: change.policyArn }))
      return
  }
}

/** Puts back the state the change replaced. */
export async function undoChange(iam: IAMClient, change: Change): Promise<void> {
  const { identity } = change
  switch (change.action) {
    case 'deactivate-key':
      await iam.send(new UpdateAccessKeyCommand({ UserName: identity.name, AccessKeyId: change.key, Status: change.before.status }))
      return
    case 'revoke-sessions':
    case 'quarantine':
      if (change.before.document === null) await deleteInlinePolicy(iam, identity, change.policyName)
      else await putInlinePolicy(iam, identity, change.policyName, change.before.document)
      return
    case 'remove-password':
      // A password nobody knows, to be reset at the next sign-in: the profile is back, the old password cannot be.
      await iam.send(new CreateLoginProfileCommand({ UserName: identity.name, Password: `${randomBytes(24).toString('base64url')}aA1!`, PasswordResetRequired: true }))
      return
    case 'detach-policy':
      if (identity.kind === 'user') await iam.send(new AttachUserPolicyCommand({ UserName: identity.name, PolicyArn: change.policyArn }))
      else await iam.send(new AttachRolePolicyCommand({ RoleName: identity.name, PolicyArn: change.policyArn }))
      return
  }
}
