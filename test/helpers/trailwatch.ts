// Runs the command line from the TypeScript sources, so CLI tests exercise the code as it is now.
import { main } from '../../cli.js'

await main(process.argv)
