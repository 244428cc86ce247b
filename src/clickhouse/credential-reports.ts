import type { CredentialReportRow } from '../credentials/credential-report.js'
import type { Store } from './client.js'

/** Stores one report snapshot; importing the same snapshot again replaces it. */
export async function insertCredentialReport(store: Store, rows: CredentialReportRow[], generatedAtMs: number, nowMs: number): Promise<void> {
  const generated_at = Math.floor(generatedAtMs / 1000)
  await store.client.insert({
    table: 'credential_reports',
    values: rows.map((row) => ({ ...row, generated_at, imported_at: nowMs })),
    format: 'JSONEachRow',
    clickhouse_settings: { async_insert: 0 },
  })
}
