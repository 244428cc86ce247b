import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface Received {
  to: string[]
  /** Whether the session ran over TLS (from the first byte, or after STARTTLS). */
  secure: boolean
  raw: Buffer
  mail: ParsedMail
}

/** What the server answers a message with: undefined accepts it; a code and text refuse it. */
export type Verdict = { code: number; message: string } | undefined

export interface TestSmtpServer {
  url: string
  received: Received[]
  /** Connection-level errors the server saw. */
  errors: Error[]
  /** Decides each message's fate after it arrived in full (fault injection). */
  judge: (raw: Buffer) => Verdict
  /** Called with each accepted message before the server answers 250. */
  onAccepted: (received: Received) => void
  close: () => Promise<void>
}

export interface SmtpServerOptions {
  /** Key and certificate: with `implicit`, TLS from the first byte (smtps); otherwise offered through STARTTLS. */
  tls?: { key: Buffer; cert: Buffer; implicit?: boolean }
}

/** A real SMTP server on 127.0.0.1 that parses what it accepts; AUTH as alerts / s3cret. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const credentials = { user: 'alerts', pass: 's3cret' }
  const state: TestSmtpServer = {
    url: '',
    received: [],
    errors: [],
    judge: () => undefined,
    onAccepted: () => undefined,
    close: () => Promise.resolve(),
  }
  const server = new SMTPServer({
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, secure: options.tls.implicit ?? false } : { disabledCommands: ['STARTTLS'] }),
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
            const received = { to: session.envelope.rcptTo.map((r) => r.address), secure: session.secure, raw, mail }
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
  // A client that walks away (a refused certificate, a killed alerter) is the server's error to log, not the test's.
  server.on('error', (err) => state.errors.push(err))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  state.url = `${options.tls?.implicit ? 'smtps' : 'smtp'}://${credentials.user}:${credentials.pass}@127.0.0.1:${String(port)}`
  state.close = () => new Promise((resolve) => { server.close(() => { resolve(); }); })
  return state
}

/** A self-signed certificate for 127.0.0.1, made with openssl; it is its own CA. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer; certFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-smtp-tls-'))
  const keyFile = path.join(dir, 'key.pem')
  const certFile = path.join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile }
}
