import { stringify } from 'csv-stringify/sync'

/** Rows as CSV with a header; a cell a spreadsheet would run as a formula (=, +, -, @, or a tab or CR first) is kept as text. */
export function csv<T extends object>(rows: T[], columns: (keyof T & string)[]): string {
  return stringify(
    rows.map((row) => columns.map((column) => row[column] ?? '')),
    {
      header: true,
      columns,
      cast: { boolean: (value) => (value ? 'true' : 'false'), string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
    },
  )
}
