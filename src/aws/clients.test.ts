import { describe, expect, it } from 'vitest'
import { awsRefusal } from './clients.js'

describe('the words for what AWS refused', () => {
  it('names what to change, and keeps what the endpoint said on one visible line', () => {
    const refused = (name: string, message = 'refused') => awsRefusal(Object.assign(new Error(message), { name }), 'sqs:ReceiveMessage')
    expect(refused('QueueDoesNotExist')).toBe('no such queue')
    expect(refused('AccessDenied')).toBe('access denied (the credentials in use need sqs:ReceiveMessage)')
    expect(refused('InvalidClientTokenId', 'bad key\nfake: line\u001b[31m')).toBe('the AWS credentials in use were refused: bad key\\nfake: line\\u001b[31m')
    // What may pass is retried, not refused.
    expect(refused('ThrottlingException')).toBeUndefined()
  })
})
