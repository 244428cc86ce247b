import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createTransport } from 'nodemailer'
import addressparser from 'nodemailer/lib/addressparser'
import MailComposer from 'nodemailer/lib/mail-composer'
import { DeliveryError, errorMessage } from '../errors.js'

export interface Attachment {
  filename: string
  contentType: string
  content: string
}

export interface MessageParts {
  /** Stable per notification, so a duplicate after a crash is recognisable as one. */
  messageId: string
  from: string
  to: string
  subject: string
  text: string
  html: string
  date: Date
  attachments?: Attachment[]
  /** A reply in a thread: the message it answers, and every earlier one, oldest first. */
  inReplyTo?: string | undefined
  references?: string[] | undefined
}

/** The message as MIME bytes: composed once, stored, and sent as is on every attempt. */
export async function buildMessage(parts: MessageParts): Promise<Buffer> {
  return new MailComposer({
    messageId: parts.messageId,
    from: parts.from,
    to: parts.to,
    subject: parts.subject,
    text: parts.text,
    html: parts.html,
    date: parts.date,
    attachments: parts.attachments,
    inReplyTo: parts.inReplyTo,
    references: parts.references,
  })
    .compile()
    .build()
}

export interface Delivery {
  /** The server's reply, or where the file went. */
  response: string
}

/** Where messages go: an SMTP server, or .eml files when none is configured. */
export interface MailTransport {
  readonly description: string
  /** `name` is unique and stable per notification: delivering it again replaces, never adds, a file. */
  deliver(name: string, envelope: { from: string; to: string }, raw: Buffer): Promise<Delivery>
  close(): void
}

function address(mailbox: string): string {
  const [first] = addressparser(mailbox, { flatten: true })
  return first?.address ?? mailbox
}

/** smtp:// uses STARTTLS whenever the server offers it; smtps:// is TLS from the first byte. */
export function smtpTransport(url: string, options: { ca?: Buffer | undefined } = {}): MailTransport {
  const transport = createTransport({ url, connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 60_000, ...(options.ca ? { tls: { ca: options.ca } } : {}) })
  const target = new URL(url)
  return {
    description: `SMTP ${target.protocol}//${target.host}`,
    async deliver(_id, envelope, raw) {
      try {
        const info = await transport.sendMail({ envelope: { from: address(envelope.from), to: [envelope.to] }, raw })
        return { response: info.response }
      } catch (err) {
        // nodemailer marks a 5xx refusal permanent; connection trouble and 4xx replies may pass later.
        const permanent = typeof err === 'object' && err !== null && 'permanent' in err && err.permanent === true
        throw new DeliveryError(errorMessage(err), { permanent, cause: err })
      }
    },
    close() {
      transport.close()
    },
  }
}

/** With no SMTP server: each message becomes DIR/<name>.eml, written whole or not at all. */
export function outboxTransport(dir: string): MailTransport {
  return {
    description: `outbox ${dir}`,
    async deliver(name, _envelope, raw) {
      const file = path.join(dir, `${name}.eml`)
      // A directory that cannot be made or written now may be fixed later: retried like a mail server that is down.
      try {
        await mkdir(dir, { recursive: true })
        await writeFile(`${file}.partial`, raw)
        await rename(`${file}.partial`, file)
      } catch (err) {
        throw new DeliveryError(`cannot write ${file}: ${errorMessage(err)}`, { permanent: false, cause: err })
      }
      return { response: file }
    },
    close() {
      // Nothing held open.
    },
  }
}
