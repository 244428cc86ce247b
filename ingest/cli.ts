import { Command } from 'commander'
import { withCommonOptions, withContext, type CommonOptions } from '../src/cli/context.js'
import { ProgressLine } from '../src/cli/progress.js'
import { backfill } from './backfill.js'

/** Exit code of a run that finished but rejected some input. */
export const EXIT_REJECTED = 2

export function backfillCommand(): Command {
  return withCommonOptions(new Command('backfill'))
    .description('ingest CloudTrail files or directories (recursively): S3 log files, JSON arrays, NDJSON, EventBridge envelopes, optionally gzipped')
    .argument('<path...>', 'files or directories')
    .option('--json', 'print the summary as one JSON object')
    .addHelpText('after', `\nExit status: 0 when everything was stored or already there, ${EXIT_REJECTED} when some input was rejected (see the rejected_input table), 1 on error.`)
    .action(async (paths: string[], options: CommonOptions & { json?: boolean }) => {
      const summary = await withContext(options, async ({ config, logger, store }) => {
        const progress = new ProgressLine()
        try {
          return await backfill(store, paths, {
            maxBatch: config.ingest.maxBatch,
            maxRecordBytes: config.ingest.maxRecordBytes,
            logger,
            onProgress: (p) => {
              progress.update(p.bytesDone, p.bytesTotal, p.read, 'records')
            },
          })
        } finally {
          progress.clear()
        }
      })
      if (options.json) {
        console.log(JSON.stringify(summary))
      } else {
        const rate = Math.round(summary.read / Math.max(summary.seconds, 0.001))
        console.log(
          `${summary.files} files, ${summary.read} records read: ${summary.stored} stored, ${summary.duplicate} duplicate, ${summary.rejected} rejected ` +
            `(${summary.seconds.toFixed(1)} s, ${rate}/s)`,
        )
        if (summary.rejected > 0) console.log("rejected input and the reasons: trailwatch query \"SELECT source, location, reason FROM rejected_input ORDER BY rejected_at DESC LIMIT 20\"")
      }
      if (summary.rejected > 0) process.exitCode = EXIT_REJECTED
    })
}
