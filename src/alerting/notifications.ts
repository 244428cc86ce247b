import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Store } from '../clickhouse/client.js'
import { selectRows } from '../clickhouse/rows.js'
import { clickHouseTime, isoFromMillis } from '../time.js'

export const STATUSES = ['pending', 'sending', 'retrying', 'sent', 'failed'] as const
export type NotificationStatus = (typeof STATUSES)[number]
export const KINDS = ['alert', 'digest', 'report', 'webhook', 'slack', 'pagerduty'] as const
/** An email (an incident's thread, a digest, a report), or an incident update to another output. */
export type NotificationKind = (typeof KINDS)[number]

const NotificationRow = z.object({
  notification_id: z.string(),
  kind: z.enum(KINDS),
  recipient: z.string(),
  subject: z.string(),
  items: z.array(z.string()),
  status: z.enum(STATUSES),
  attempts: z.coerce.number(),
  next_attempt_at: isoFromMillis,
  message_id: z.string(),
  error: z.string(),
  created_at: isoFromMillis,
  updated_at: isoFromMillis,
  version: z.coerce.number(),
})

/** One message to one recipient and where its delivery stands; every change is a new version. */
export type Notification = z.output<typeof NotificationRow>

/** Deterministic: the same message to the same person always has the same id. */
export function notificationId(kind: NotificationKind, ...parts: string[]): string {
  return createHash('sha256').update([kind, ...parts].join('\0')).digest('hex').slice(0, 24)
}

const COLUMNS = `notification_id, kind, recipient, subject, items, status, attempts,
  toUnixTimestamp64Milli(next_attempt_at) AS next_attempt_at, message_id, error,
  toUnixTimestamp64Milli(created_at) AS created_at, toUnixTimestamp64Milli(updated_at) AS updated_at, version`

function toRow(n: Notification): Record<string, unknown> {
  return {
    ...n,
    next_attempt_at: clickHouseTime(Date.parse(n.next_attempt_at)),
    created_at: clickHouseTime(Date.parse(n.created_at)),
    updated_at: clickHouseTime(Date.parse(n.updated_at)),
  }
}

function select(store: Store, where: string, params: Record<string, unknown> = {}): Promise<Notification[]> {
  // Filtered in a subquery: the outer aliases would otherwise shadow the columns in WHERE.
  return selectRows(store, `SELECT ${COLUMNS} FROM (SELECT * FROM notifications FINAL WHERE ${where}) ORDER BY created_at, notification_id`, params, NotificationRow)
}

export async function existingNotificationIds(store: Store, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const rows = await selectRows(store, 'SELECT DISTINCT notification_id FROM notifications WHERE notification_id IN {ids:Array(String)}', { ids }, z.object({ notification_id: z.string() }))
  return new Set(rows.map((row) => row.notification_id))
}

/** Stores new messages, the bytes before the state, so a pending notification always has its message. */
export async function createNotifications(store: Store, created: { notification: Notification; raw: Buffer }[]): Promise<void> {
  if (created.length === 0) return
  await store.client.insert({
    table: 'notification_messages',
    values: created.map(({ notification, raw }) => ({ notification_id: notification.notification_id, raw: raw.toString('latin1') })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
  await recordStates(store, created.map(({ notification }) => notification))
}

/** Appends new versions; the highest version of a notification is its state. */
export async function recordStates(store: Store, states: Notification[]): Promise<void> {
  if (states.length === 0) return
  await store.client.insert({ table: 'notifications', values: states.map(toRow), format: 'JSONEachRow', clickhouse_settings: { async_insert: 0 } })
}

/** The composed messages of these notifications, by id. */
export async function messageBytes(store: Store, ids: string[]): Promise<Map<string, Buffer>> {
  if (ids.length === 0) return new Map()
  const rows = await selectRows(
    store,
    'SELECT notification_id, any(raw) AS raw FROM notification_messages WHERE notification_id IN {ids:Array(String)} GROUP BY notification_id',
    { ids },
    z.object({ notification_id: z.string(), raw: z.string() }),
  )
  return new Map(rows.map((row) => [row.notification_id, Buffer.from(row.raw, 'latin1')]))
}

/**
 * Due for an attempt at `now`: never tried, waiting for a retry that is due, or caught mid-send by
 * a crash (sent or not, nobody knows: sending again risks one duplicate, not sending risks a loss).
 */
export function dueNotifications(store: Store, now: Date): Promise<Notification[]> {
  return select(store, `status IN ('pending', 'sending') OR (status = 'retrying' AND next_attempt_at <= {now:DateTime64(3)})`, { now: clickHouseTime(now.getTime()) })
}

export function notificationsWithStatus(store: Store, statuses: NotificationStatus[]): Promise<Notification[]> {
  return select(store, 'status IN {statuses:Array(String)}', { statuses })
}

const Thread = NotificationRow.extend({ thread: z.string() })

/**
 * Every message so far about each incident, per recipient or output, oldest first, keyed
 * `recipient|incident`: the thread a new email replies to, and the state its last message told.
 */
export async function incidentThreads(store: Store, incidentIds: string[]): Promise<Map<string, Notification[]>> {
  if (incidentIds.length === 0) return new Map()
  const rows = await selectRows(
    store,
    `SELECT ${COLUMNS}, thread FROM (
       SELECT *, arrayJoin(arrayFilter(i -> startsWith(i, 'incident:'), items)) AS thread FROM notifications FINAL
       WHERE hasAny(items, {threads:Array(String)}))
     ORDER BY created_at, notification_id`,
    { threads: incidentIds.map((id) => `incident:${id}`) },
    Thread,
  )
  const threads = new Map<string, Notification[]>()
  for (const { thread, ...notification } of rows) {
    const key = `${notification.recipient}|${thread.slice('incident:'.length)}`
    threads.set(key, [...(threads.get(key) ?? []), notification])
  }
  return threads
}
