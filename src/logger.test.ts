import { Writable } from 'node:stream'
import { expect, it } from 'vitest'
import { createLogger, moduleLogger } from './logger.js'

it('names each module once, however deep its logger was made', () => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const root = createLogger('info', 'json', sink)
  const inbox = moduleLogger(root.child({ command: 'run' }), 'ingest.inbox')
  moduleLogger(inbox, 'ingest.backfill').info('file read')
  expect(lines).toHaveLength(1)
  expect(lines[0]?.match(/"module"/g)).toHaveLength(1)
  expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ command: 'run', module: 'ingest.backfill', msg: 'file read' })
})
