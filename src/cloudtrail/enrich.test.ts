import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { AddressLists } from './address-lists.js'
import { loadSourceEnricher } from './enrich.js'

describe('SourceEnricher', () => {
  it('gives public addresses their country and autonomous system, IPv4 and IPv6', async () => {
    const enricher = await loadSourceEnricher()
    expect(enricher.lookup('8.8.8.8', '', '')).toEqual({ network: 'public', country: 'US', asn: 15169, asOrg: 'Google LLC', lists: [] })
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
    expect(enricher.lookup(null, 'not-a-host', '')).toEqual({ network: '', country: '', asn: 0, asOrg: '', lists: [] })
  })

  it('names the lists an address is on: Tor’s exits always, the operator’s own when given, ranges and IPv6 too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-lists-'))
    writeFileSync(path.join(dir, 'partner.txt'), '# the partner’s office and VPN\n203.0.113.0/24\n2001:db8:abcd::/48  # their IPv6\n10.20.0.0/16\n')
    writeFileSync(path.join(dir, 'feed.txt'), '185.220.101.1\n198.51.100.7\n')
    const enricher = await loadSourceEnricher([
      { name: 'partner-vpn', path: path.join(dir, 'partner.txt') },
      { name: 'threat-feed', path: path.join(dir, 'feed.txt') },
    ])
    expect(enricher.lookup('185.220.101.1', '', '')).toMatchObject({ country: 'DE', lists: ['tor-exit', 'threat-feed'] })
    expect(enricher.lookup('203.0.113.77', '', '').lists).toEqual(['partner-vpn'])
    expect(enricher.lookup('2001:db8:abcd:12::5', '', '').lists).toEqual(['partner-vpn'])
    expect(enricher.lookup('10.20.3.4', '', '')).toMatchObject({ network: 'private', lists: ['partner-vpn'] })
    expect(enricher.lookup('203.0.114.1', '', '').lists).toEqual([])
    // Without lists of its own, only Tor's.
    expect((await loadSourceEnricher()).lookup('198.51.100.7', '', '').lists).toEqual([])
    expect((await loadSourceEnricher()).lookup('185.220.101.1', '', '').lists).toEqual(['tor-exit'])
  })

  it('refuses a list with a line that is no address, naming the file and the line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trailwatch-lists-'))
    writeFileSync(path.join(dir, 'bad.txt'), '203.0.113.0/24\n203.0.113.300\n')
    expect(() => AddressLists.load([{ name: 'bad', path: path.join(dir, 'bad.txt') }])).toThrow(`address list bad (${path.join(dir, 'bad.txt')}), line 2: "203.0.113.300" is not an address or a CIDR range`)
    writeFileSync(path.join(dir, 'wide.txt'), '203.0.113.0/33\n')
    expect(() => AddressLists.load([{ name: 'wide', path: path.join(dir, 'wide.txt') }])).toThrow('line 1: "203.0.113.0/33" has no valid prefix length')
    expect(() => AddressLists.load([{ name: 'Partner VPN', path: path.join(dir, 'bad.txt') }])).toThrow('lower-case letters, digits and dashes')
    expect(() => AddressLists.load([{ name: 'gone', path: path.join(dir, 'gone.txt') }])).toThrow('address list gone: no such file')
  })
})
