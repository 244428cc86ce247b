import { Command } from 'commander'
import { text } from 'node:stream/consumers'
import { AppError } from '../errors.js'
import { hashPassword, validUserName } from './auth.js'

/** `trailwatch console-user NAME`: the password from standard input, a line for TRAILWATCH_CONSOLE_USERS_FILE on standard output. */
export function consoleUserCommand(): Command {
  return new Command('console-user')
    .description('hash a console password read from standard input, printing a NAME:HASH line for TRAILWATCH_CONSOLE_USERS_FILE')
    .argument('<name>', 'the user name (letters, digits, . _ @ -)')
    .addHelpText('after', "\nExample: printf '%s' \"$PASSWORD\" | trailwatch console-user alice >> console-users")
    .action(async (name: string) => {
      if (!validUserName(name)) throw new AppError('USAGE', 'a user name is 1 to 64 letters, digits, and . _ @ -')
      const password = (await text(process.stdin)).replace(/\r?\n$/, '')
      if (password.length < 12) throw new AppError('USAGE', 'the password on standard input must be at least 12 characters')
      console.log(`${name}:${await hashPassword(password)}`)
    })
}
