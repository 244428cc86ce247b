import { describe, expect, it } from 'vitest'
import { loadSourceEnricher } from './enrich.js'

describe('SourceEnricher', () => {
  it('gives public addresses their country and autonomous system, IPv4 and IPv6', async () => {
    const enricher = await loadSourceEnricher()
    expect(enricher.lookup('8.8.8.8', '', '')).toEqual({ network: 'public', country: 'US', asn: 15169, asOrg: 'Google LLC' })
    expect(enricher.lookup('2600:1f18::1', '', '')).toMatchObject({ network: 'public', asn: 14618, asOrg: 'Amazon.com, Inc.' })
    expect(enricher.lookup('79.192.14.20', '', '')).toMatchObject({ country: 'DE', asn: 3320 })
  })

  it('reads the first and last ranges of the data, and knows an address between ranges has none', async () => {
    const enricher = await loadSourceEnricher()
    expect(enricher.lookup('1.0.0.1', '', '')).toMatchObject({ asn: 13335, asOrg: 'Cloudflare, Inc.' })
    expect(enricher.lookup('1.0.1.5', '', '')).toMatchObject({ network: 'public', asn: 0, asOrg: '' })
    expect(enricher.lookup('223.255.254.200', '', '')).toMatchObject({ asn: 55415, asOrg: 'Marina Bay Sands Pte Ltd' })
  })

  it('tells private addresses, VPC endpoint calls and AWS hostnames apart', async () => {
    const enricher = await loadSourceEnricher()
    for (const ip of ['10.8.8.10', '172.20.1.1', '192.168.10.20', '100.64.3.2', 'fd12:3456::1']) expect(enricher.lookup(ip, '', '').network).toBe('private')
    expect(enricher.lookup('10.0.1.5', '', 'vpce-0a1b2c3d4e5f').network).toBe('vpc-endpoint')
    expect(enricher.lookup(null, 'ec2.amazonaws.com', '').network).toBe('aws-service')
    expect(enricher.lookup(null, 'AWS Internal', '').network).toBe('aws-service')
    expect(enricher.lookup(null, 'not-a-host', '')).toEqual({ network: '', country: '', asn: 0, asOrg: '' })
  })
})
