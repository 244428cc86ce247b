import { describe, expect, it } from 'vitest'
import { networkClass } from './network-class.js'

describe('networkClass', () => {
  it('tells VPN providers, hosting providers and access networks apart by their autonomous system', () => {
    // M247 rents hosting and carries NordVPN: a VPN to whoever looks at its users.
    expect([networkClass(9009), networkClass(16509), networkClass(8075), networkClass(7922), networkClass(0)]).toEqual(['vpn', 'hosting', 'hosting', 'access', 'access'])
  })
})
