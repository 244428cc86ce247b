import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import countries from 'i18n-iso-countries'
import { packagePath } from './package.js'

export interface Centroid {
  name: string
  lat: number
  lon: number
}

let centroids: Map<string, Centroid> | undefined

/**
 * Where a country is drawn on a map: the centroid of its largest polygon (catalogue/country-centroids,
 * 360info from geoBoundaries, CC BY 4.0), by the ISO 3166-1 alpha-2 code the address lookups give.
 */
export function centroidOf(alpha2: string): Centroid | undefined {
  if (!centroids) {
    const rows = parse<Record<string, string>>(readFileSync(packagePath('catalogue', 'country-centroids', 'centroids.csv'), 'utf8'), { columns: true })
    centroids = new Map(rows.map((r) => [r.iso3 ?? '', { name: r.name ?? '', lat: Number(r.lat), lon: Number(r.lon) }]))
  }
  const alpha3 = countries.alpha2ToAlpha3(alpha2.toUpperCase())
  return alpha3 ? centroids.get(alpha3) : undefined
}
