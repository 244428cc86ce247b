// Puts a small organisation trail into an AWS emulator, to try `backfill s3://` and `aws sync`
// without an AWS account: the records of examples/carol.jsonl, one log file a day, filed by
// CloudTrail's key layout, and carol as an IAM user. Only ever against AWS_ENDPOINT_URL.
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'

if (!process.env.AWS_ENDPOINT_URL) {
  console.error('example-trail: set AWS_ENDPOINT_URL to an emulator (bash aws/moto.sh start); this writes a bucket')
  process.exit(1)
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const bucket = 'example-org-trail'
const records = readFileSync(path.join(import.meta.dirname, '../examples/carol.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line))
const s3 = new S3Client({ forcePathStyle: true })
await s3.send(new CreateBucketCommand({ Bucket: bucket }))
const days = new Map()
for (const record of records) days.set(record.eventTime.slice(0, 10), [...(days.get(record.eventTime.slice(0, 10)) ?? []), record])
for (const [day, dayRecords] of days) {
  const { recipientAccountId: account, awsRegion: region } = dayRecords[0]
  const stamp = `${day.replace(/-/g, '')}T2355Z`
  const key = `trails/AWSLogs/o-example123/${account}/CloudTrail/${region}/${day.replace(/-/g, '/')}/${account}_CloudTrail_${region}_${stamp}_example.json.gz`
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(JSON.stringify({ Records: dayRecords })) }))
}
const iam = new IAMClient({})
await iam.send(new CreateUserCommand({ UserName: 'carol' }))
await iam.send(new CreateAccessKeyCommand({ UserName: 'carol' }))
const sorted = [...days.keys()].sort()
console.log(`s3://${bucket}/trails: ${String(days.size)} log files, ${sorted[0]} to ${sorted.at(-1)}; IAM user carol with an access key`)
