// Opens the embedded store in a data directory and keeps it until stdin closes: the process a user's
// second command runs into.
import { openEmbeddedStore } from '../../src/clickhouse/client.js'

const dataDir = process.argv[2] ?? './data'
const store = await openEmbeddedStore(dataDir, 'trailwatch')
process.stdout.write('ready\n')
process.stdin.resume()
process.stdin.on('end', () => {
  void store.close().then(() => process.exit(0))
})
