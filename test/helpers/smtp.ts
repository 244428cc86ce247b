import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface Received {
  to: string[]
  raw: Buffer
  mail: ParsedMail
}

/** What the server answers a message with: undefined accepts it; a code and text refuse it. */
export type Verdict = { code: number; message: string } | undefined

export interface TestSmtpServer {
  url: string
  received: Received[]
  /** Decides each message's fate after it arrived in full (fault injection). */
  judge: (raw: Buffer) => Verdict
  /** Called with each accepted message before the server answers 250. */
  onAccepted: (received: Received) => void
  close: () => Promise<void>
}

/** A real SMTP server on 127.0.0.1 that parses what it accepts; AUTH with the given user and password. */
export async function startSmtpServer(credentials = { user: 'alerts', pass: 's3cret' }): Promise<TestSmtpServer> {
  const state: TestSmtpServer = {
    url: '',
    received: [],
    judge: () => undefined,
    onAccepted: () => undefined,
    close: () => Promise.resolve(),
  }
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.pass) callback(null, { user: auth.username })
      else callback(new Error('invalid credentials'))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks)
        const verdict = state.judge(raw)
        if (verdict) {
          callback(Object.assign(new Error(verdict.message), { responseCode: verdict.code }))
          return
        }
        simpleParser(raw)
          .then((mail) => {
            const received = { to: session.envelope.rcptTo.map((r) => r.address), raw, mail }
            state.received.push(received)
            state.onAccepted(received)
            callback(null)
          })
          .catch((err: unknown) => {
            callback(err as Error)
          })
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  state.url = `smtp://${credentials.user}:${credentials.pass}@127.0.0.1:${String(port)}`
  state.close = () => new Promise((resolve) => { server.close(() => { resolve(); }); })
  return state
}
