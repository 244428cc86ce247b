import { readFileSync } from 'node:fs'
import { packagePath } from '../package.js'

/** What kind of network an autonomous system is: where people live and work, or where machines and tunnels are rented. */
export type NetworkClass = 'access' | 'hosting' | 'vpn'

let classes: Map<number, NetworkClass> | undefined

/** `AS<number> # who` lines of a list in catalogue/asn-classes (X4BNet/lists_vpn, MIT). */
function listed(file: string): number[] {
  return readFileSync(packagePath('catalogue', 'asn-classes', file), 'utf8')
    .split('\n')
    .flatMap((line) => {
      const match = /^AS(\d+)\b/.exec(line.trim())
      return match ? [Number(match[1])] : []
    })
}

/** The class of an autonomous system: a VPN provider's, a hosting or cloud provider's, or else an access network (an ISP). */
export function networkClass(asn: number): NetworkClass {
  if (!classes) {
    classes = new Map<number, NetworkClass>(listed('hosting.txt').map((n) => [n, 'hosting']))
    // A VPN provider renting hosting is a VPN to whoever looks at its users.
    for (const n of listed('vpn.txt')) classes.set(n, 'vpn')
  }
  return classes.get(asn) ?? 'access'
}
