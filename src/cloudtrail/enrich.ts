import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { isIPv4 } from 'node:net'
import { Reader, type CountryResponse } from 'maxmind'
import { AddressLists, TOR_EXITS, type AddressListFile } from './address-lists.js'

/**
 * Where a call came from, beyond its address: country and autonomous system of public addresses,
 * from data shipped in npm packages (nothing is fetched at run time):
 * - country: @ip-location-db/geo-whois-asn-country-mmdb (CC0; data from NRO, CC BY 4.0);
 * - ASN and organisation: @ip-location-db/asn (Route Views and DB-IP, CC BY 4.0).
 */
export interface SourceInfo {
  /** `public`, `private`, `vpc-endpoint`, `aws-service` (a service hostname or AWS Internal), or empty. */
  network: string
  country: string
  asn: number
  asOrg: string
  /** The named address lists the address is on: `tor-exit`, and the operator's own. */
  lists: string[]
}

const AWS_HOST = /(^|\.)amazonaws\.com$|^AWS Internal$/
// RFC 1918, shared (CGNAT), loopback, link-local; IPv6 unique-local, link-local, loopback.
const PRIVATE_V4: [number, number][] = [
  [0x0a000000, 8],
  [0xac100000, 12],
  [0xc0a80000, 16],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
]
const PRIVATE_V6 = /^(f[cd]|fe[89ab])[0-9a-f]{2}:|^::1$/i

function ipv4ToNumber(ip: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = ip.split('.').map(Number)
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d
}

function isPrivate(ip: string): boolean {
  if (isIPv4(ip)) {
    const n = ipv4ToNumber(ip)
    return PRIVATE_V4.some(([base, bits]) => n >>> (32 - bits) === base >>> (32 - bits))
  }
  return PRIVATE_V6.test(ip)
}

function ipv6ToBigInt(ip: string): bigint {
  const [head = '', tail] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group || '0', 16)), 0n)
}

/**
 * Address ranges sorted by start, searched by halving. Only the numbers are read at load; an
 * organisation is read from the CSV text when its range is found (every process that decodes loads
 * half a million ranges, and looks up a few thousand).
 */
class RangeTable<T extends number | bigint> {
  private constructor(
    private readonly csv: string,
    private readonly starts: T[],
    private readonly ends: T[],
    private readonly asns: number[],
    /** Where each range's organisation begins in `csv`; it runs to the end of the line. */
    private readonly orgAt: number[],
  ) {}

  /** Lines of start,end,asn,organisation (quoted when it holds a comma); `parse` reads an address from `csv` between two offsets. */
  static parse<T extends number | bigint>(csv: string, parse: (csv: string, from: number, to: number) => T): RangeTable<T> {
    const table = new RangeTable<T>(csv, [], [], [], [])
    for (let line = 0; line < csv.length; ) {
      const first = csv.indexOf(',', line)
      const second = csv.indexOf(',', first + 1)
      const third = csv.indexOf(',', second + 1)
      const next = csv.indexOf('\n', third + 1)
      if (first < 0 || second < 0 || third < 0) break
      table.starts.push(parse(csv, line, first))
      table.ends.push(parse(csv, first + 1, second))
      table.asns.push(decimal(csv, second + 1, third))
      table.orgAt.push(third + 1)
      line = next < 0 ? csv.length : next + 1
    }
    return table
  }

  find(address: T): { asn: number; asOrg: string } | undefined {
    let low = 0
    let high = this.starts.length - 1
    while (low <= high) {
      const middle = (low + high) >>> 1
      if ((this.starts[middle] as T) <= address) low = middle + 1
      else high = middle - 1
    }
    if (high < 0 || address > (this.ends[high] as T)) return undefined
    const orgAt = this.orgAt[high] as number
    const lineEnd = this.csv.indexOf('\n', orgAt)
    const org = this.csv.slice(orgAt, lineEnd < 0 ? undefined : lineEnd)
    return { asn: this.asns[high] as number, asOrg: org.startsWith('"') ? org.slice(1, -1).replaceAll('""', '"') : org }
  }
}

/** The decimal number written in `text` between two offsets, read without making a string of it. */
function decimal(text: string, from: number, to: number): number {
  let value = 0
  for (let i = from; i < to; i++) value = value * 10 + text.charCodeAt(i) - 48
  return value
}

export class SourceEnricher {
  private readonly cache = new Map<string, SourceInfo>()

  private constructor(
    private readonly countries: Reader<CountryResponse & { country_code?: string }>,
    private readonly asnV4: RangeTable<number>,
    private readonly asnV6: RangeTable<bigint>,
    private readonly lists: AddressLists,
  ) {}

  /** The same address data, matched against these lists. */
  withLists(lists: AddressLists): SourceEnricher {
    return new SourceEnricher(this.countries, this.asnV4, this.asnV6, lists)
  }

  static async load(): Promise<SourceEnricher> {
    const require = createRequire(import.meta.url)
    const file = (name: string) => require.resolve(name)
    const [mmdb, v4, v6] = await Promise.all([
      readFile(file('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb')),
      readFile(file('@ip-location-db/asn/asn-ipv4-num.csv'), 'utf8'),
      readFile(file('@ip-location-db/asn/asn-ipv6-num.csv'), 'utf8'),
    ])
    return new SourceEnricher(new Reader(mmdb), RangeTable.parse(v4, decimal), RangeTable.parse(v6, (csv, from, to) => BigInt(csv.slice(from, to))), AddressLists.load([]))
  }

  lookup(sourceIp: string | null, sourceHost: string, vpcEndpointId: string): SourceInfo {
    if (sourceIp === null) return { network: AWS_HOST.test(sourceHost) ? 'aws-service' : '', country: '', asn: 0, asOrg: '', lists: [] }
    if (vpcEndpointId) return { network: 'vpc-endpoint', country: '', asn: 0, asOrg: '', lists: [] }
    let info = this.cache.get(sourceIp)
    if (!info) {
      info = this.lookupAddress(sourceIp)
      // Addresses repeat heavily; a bounded cache keeps look-ups off the hot path.
      if (this.cache.size >= 100_000) this.cache.clear()
      this.cache.set(sourceIp, info)
    }
    return info
  }

  private lookupAddress(ip: string): SourceInfo {
    // An operator's list may name private ranges (its own VPN, a partner's link).
    const lists = this.lists.namesOf(ip)
    if (isPrivate(ip)) return { network: 'private', country: '', asn: 0, asOrg: '', lists }
    const country = this.countries.get(ip)?.country_code ?? ''
    const as = isIPv4(ip) ? this.asnV4.find(ipv4ToNumber(ip)) : this.asnV6.find(ipv6ToBigInt(ip))
    return { network: 'public', country, asn: as?.asn ?? 0, asOrg: as?.asOrg ?? '', lists }
  }
}

let shared: Promise<SourceEnricher> | undefined

/**
 * The address data is large (about 60 MB of ranges): loaded once per process, when first needed;
 * matched against Tor's exits and the operator's lists (TRAILWATCH_ADDRESS_LISTS).
 */
export async function loadSourceEnricher(lists: readonly AddressListFile[] = []): Promise<SourceEnricher> {
  shared ??= SourceEnricher.load()
  return (await shared).withLists(AddressLists.load([TOR_EXITS, ...lists]))
}
