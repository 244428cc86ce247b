/**
 * What lets a detector's query answer for every window of a replay at once (Detector.replaySql):
 * the rows of each window read once and repeated into each window they fall in, numbered `run`,
 * and that number the first key of every grouping.
 */

/** A query for one window (`{from}` to `{now}`), and the same for every window of a replay at once. */
export interface WindowQueries {
  sql: string
  replaySql: string
}

/** Both queries of a detector, from one that is told whether it replays. */
export function windowQueries(query: (replay: boolean) => string): WindowQueries {
  return { sql: query(false), replaySql: query(true) }
}

export interface Windowed {
  /** What is read of each row, computed before a replay repeats it; must include `time`. */
  columns: string
  /** The rows that count, and a weaker condition on columns alone read first (PREWHERE), if any. */
  sql: string
  pre?: string | undefined
  table?: string
  /** The column whose time puts a row in a window. */
  time?: string
}

/**
 * The rows of a table (events by default) whose time falls in the window and that meet the
 * condition, with the columns asked for; in a replay, each row once for every window its time
 * falls in, that window's number in `run`.
 */
export function windowed({ columns, sql, pre, table = 'events', time = 'event_time' }: Windowed, replay: boolean): string {
  const span = `${time} >= {from:DateTime64(3)} AND ${time} < {now:DateTime64(3)}`
  const rows = `SELECT ${columns} FROM ${table} PREWHERE ${span}${pre ? ` AND ${pre}` : ''} WHERE ${sql}`
  return replay ? inWindows(`(${rows})`, true, time) : rows
}

/**
 * The rows of a table or subquery read over a longer span (a baseline and its windows) that fall in
 * the window; in a replay, each once for every window its time falls in, numbered `run`.
 */
export function inWindows(rows: string, replay: boolean, time = 'event_time'): string {
  if (!replay) return `SELECT * FROM ${rows} WHERE ${time} >= {from:DateTime64(3)} AND ${time} < {now:DateTime64(3)}`
  return `SELECT *, run FROM ${rows}
      ARRAY JOIN arrayFilter(i -> ${time} >= {froms:Array(DateTime64(3))}[i] AND ${time} < {nows:Array(DateTime64(3))}[i], range(1, {runs:UInt32} + 1)) AS run`
}

/** Where the window judged starts: the one window's, or in a replay the window's numbered by column `run`. */
export const windowFrom = (replay: boolean, run = 'run'): string => (replay ? `{froms:Array(DateTime64(3))}[${run}]` : '{from:DateTime64(3)}')

/** Where the window judged ends (exclusive), as windowFrom. */
export const windowNow = (replay: boolean, run = 'run'): string => (replay ? `{nows:Array(DateTime64(3))}[${run}]` : '{now:DateTime64(3)}')

/** Where the window's baseline starts (its end less the detector's lookback), as windowFrom. */
export const baselineFrom = (replay: boolean, run = 'run'): string => (replay ? `{baselineFroms:Array(DateTime64(3))}[${run}]` : '{baselineFrom:DateTime64(3)}')

/** Where the latest baseline of the windows starts: what every window's baseline holds begins here. */
export const latestBaselineFrom = (replay: boolean): string => (replay ? 'arrayMax({baselineFroms:Array(DateTime64(3))})' : '{baselineFrom:DateTime64(3)}')

/** Where the earliest baseline of the windows starts: what a query over baselines reads from. */
export const earliestBaselineFrom = (replay: boolean): string => (replay ? 'arrayMin({baselineFroms:Array(DateTime64(3))})' : '{baselineFrom:DateTime64(3)}')

/** The grouping keys of a query: in a replay, its window's number first. */
export const keys = (replay: boolean, columns: string): string => (replay ? `run, ${columns}` : columns)

/** At most `n` values, the least first: the same ones however the engine met them. */
export const fewest = (values: string, n = 5): string => `arraySlice(arraySort(${values}), 1, ${String(n)})`

/**
 * The slice of a replay's span a row falls in: the stretch between two consecutive `{bounds}` (every
 * window's start and end, in order). Each window is a run of whole slices, so what is summed per
 * slice first is summed per window exactly, and a replay repeats a row per slice, not per event.
 */
export const slice = (time = 'event_time'): string => `arrayFirstIndex(b -> b > ${time}, {bounds:Array(DateTime64(3))}) - 1`

/** The windows a row's `slice` lies in, to ARRAY JOIN as `run`. */
export const WINDOWS_OF_SLICE = `arrayFilter(i -> {froms:Array(DateTime64(3))}[i] <= {bounds:Array(DateTime64(3))}[slice] AND {bounds:Array(DateTime64(3))}[slice + 1] <= {nows:Array(DateTime64(3))}[i], range(1, {runs:UInt32} + 1))`
