import { existsSync, readFileSync, statSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import { packagePath } from '../package.js'

/** A named list of addresses and CIDR ranges, one per line, `#` starting a comment. */
export interface AddressListFile {
  name: string
  path: string
}

/** A list's name is what rules and pages say: short, lower case, safe in any output. */
export const LIST_NAME = /^[a-z0-9][a-z0-9-]{0,39}$/
/** Bigger than any reputation list worth loading into every decoding thread. */
const MAX_LIST_BYTES = 64 * 1024 * 1024

/** Tor's exit addresses as of the date in catalogue/address-lists/SOURCE: always loaded. */
export const TOR_EXITS: AddressListFile = { name: 'tor-exit', path: packagePath('catalogue', 'address-lists', 'tor-exits.txt') }

/** A line of a list as an address or a range, or why it is neither. */
function entry(line: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number | undefined } | string {
  const [address = '', prefix, ...rest] = line.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length) return `"${line.slice(0, 80)}" is not an address or a CIDR range`
  const family = version === 4 ? 'ipv4' : 'ipv6'
  if (prefix === undefined) return { address, family, prefix: undefined }
  const bits = Number(prefix)
  if (!/^\d{1,3}$/.test(prefix) || bits > (version === 4 ? 32 : 128)) return `"${line.slice(0, 80)}" has no valid prefix length`
  return { address, family, prefix: bits }
}

interface List {
  name: string
  /** Single IPv4 addresses, most of a reputation list: found in constant time. */
  addresses: Set<string>
  /** Ranges, and IPv6 addresses in any of their spellings: node's BlockList. */
  ranges: BlockList
}

/** Which named lists an address is on: Tor's exits and the operator's own (a partner's ranges, a threat feed). */
export class AddressLists {
  private constructor(private readonly lists: List[]) {}

  /** Reads each file; a bad line or an unreadable file is an error naming the file and the line. */
  static load(files: readonly AddressListFile[]): AddressLists {
    return new AddressLists(
      files.map(({ name, path }) => {
        if (!LIST_NAME.test(name)) throw new Error(`address list name "${name.slice(0, 40)}": lower-case letters, digits and dashes, at most 40`)
        if (!existsSync(path)) throw new Error(`address list ${name}: no such file ${path}`)
        if (statSync(path).size > MAX_LIST_BYTES) throw new Error(`address list ${name} (${path}) is larger than ${String(MAX_LIST_BYTES >> 20)} MiB`)
        const list: List = { name, addresses: new Set(), ranges: new BlockList() }
        readFileSync(path, 'utf8')
          .split('\n')
          .forEach((raw, i) => {
            const line = raw.replace(/#.*/, '').trim()
            if (!line) return
            const parsed = entry(line)
            if (typeof parsed === 'string') throw new Error(`address list ${name} (${path}), line ${String(i + 1)}: ${parsed}`)
            if (parsed.prefix === undefined && parsed.family === 'ipv4') list.addresses.add(parsed.address)
            else if (parsed.prefix === undefined) list.ranges.addAddress(parsed.address, parsed.family)
            else list.ranges.addSubnet(parsed.address, parsed.prefix, parsed.family)
          })
        return list
      }),
    )
  }

  /** The names of the lists holding the address, in the order the lists were given. */
  namesOf(address: string): string[] {
    const version = isIP(address)
    if (version === 0) return []
    const family = version === 4 ? 'ipv4' : 'ipv6'
    return this.lists.filter((list) => list.addresses.has(address) || list.ranges.check(address, family)).map((list) => list.name)
  }
}
