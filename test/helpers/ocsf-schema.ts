/**
 * A JSON Schema of an OCSF event class, made from the vendored OCSF schema files
 * (catalogue/ocsf-schema) as the OCSF server makes it: the class with what it extends, every object
 * it reaches with what they extend, the dictionary's types, enums and constraints, and the
 * attributes of the profiles the event applies. Ajv judges events against it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Ajv, type ValidateFunction } from 'ajv'

const SCHEMA = path.resolve(import.meta.dirname, '../../catalogue/ocsf-schema')

interface Attribute {
  type?: string
  object_type?: string
  is_array?: boolean
  requirement?: string
  enum?: Record<string, unknown>
  profile?: string | null
}
interface Definition {
  name: string
  extends?: string
  /** A class's category, as categories.json names it. */
  category?: string
  attributes: Record<string, Attribute | string[]>
  constraints?: { at_least_one?: string[]; just_one?: string[] }
}
interface TypeDefinition {
  type?: string
  regex?: string
  max_len?: number
  range?: [number, number]
  values?: unknown[]
}

const read = (file: string): unknown => JSON.parse(readFileSync(path.join(SCHEMA, file), 'utf8'))
const dictionary = (read('dictionary.json') as { attributes: Record<string, Attribute>; types: { attributes: Record<string, TypeDefinition> } })
const objects = new Map(readdirSync(path.join(SCHEMA, 'objects')).map((file) => (read(`objects/${file}`) as Definition)).map((o) => [o.name, o]))
/** The classes a finding class extends, read once. */
const EVENT_CLASSES = new Map(['events/base_event.json', 'events/findings/finding.json'].map((file) => read(file) as Definition).map((d) => [d.name, d]))
const PROFILE_FILES = new Map(readdirSync(path.join(SCHEMA, 'profiles')).map((file) => [`profiles/${file}`, (read(`profiles/${file}`) as Definition)]))

/** A definition's attributes with those of what it extends, the nearer winning; the profiles it includes, by profile name. */
function flatten(definition: Definition, parent: (name: string) => Definition | undefined): { attributes: Record<string, Attribute>; constraints: Definition['constraints']; profiles: Map<string, Record<string, Attribute>> } {
  const base = definition.extends ? parent(definition.extends) : undefined
  const inherited = base ? flatten(base, parent) : { attributes: {}, constraints: undefined, profiles: new Map<string, Record<string, Attribute>>() }
  const attributes: Record<string, Attribute> = { ...inherited.attributes }
  const profiles = new Map(inherited.profiles)
  for (const [name, attribute] of Object.entries(definition.attributes)) {
    if (name === '$include') {
      for (const file of attribute as string[]) {
        const profile = PROFILE_FILES.get(file)
        if (profile) profiles.set(profile.name, profile.attributes as Record<string, Attribute>)
      }
      continue
    }
    const own = attribute as Attribute
    const before = attributes[name]
    // An enum is widened by what extends it (activity ids of a class add to the base event's).
    attributes[name] = { ...before, ...own, ...(before?.enum && own.enum ? { enum: { ...before.enum, ...own.enum } } : {}) }
  }
  return { attributes, constraints: definition.constraints ?? inherited.constraints, profiles }
}

type JsonSchema = Record<string, unknown>

function scalarSchema(type: string): JsonSchema {
  switch (type) {
    case 'string_t':
      return { type: 'string' }
    case 'integer_t':
    case 'long_t':
      return { type: 'integer' }
    case 'float_t':
      return { type: 'number' }
    case 'boolean_t':
      return { type: 'boolean' }
    case 'json_t':
      return {}
    case 'object':
      return { type: 'object' }
  }
  const defined = dictionary.types.attributes[type]
  if (!defined) throw new Error(`OCSF type ${type} is neither a type nor an object`)
  const schema: JsonSchema = defined.type ? scalarSchema(defined.type) : {}
  if (defined.regex) schema.pattern = defined.regex
  if (defined.max_len) schema.maxLength = defined.max_len
  if (defined.range) Object.assign(schema, { minimum: defined.range[0], maximum: defined.range[1] })
  if (defined.values) schema.enum = defined.values
  return schema
}

/** The schema of a class with the named profiles applied: their attributes allowed, and those they require required. */
export function ocsfClassSchema(classFile: string, applied: string[]): JsonSchema {
  const definitions: Record<string, JsonSchema> = {}
  const events = (name: string): Definition | undefined => EVENT_CLASSES.get(name)

  const attributeSchema = (name: string, attribute: Attribute): JsonSchema => {
    const known = dictionary.attributes[name]
    const type = attribute.type ?? known?.type
    if (!type) throw new Error(`OCSF attribute ${name} has no type`)
    let schema: JsonSchema
    // `object` is any object (unmapped, vendor attributes), though every object extends one of that name.
    if (type !== 'object' && objects.has(attribute.object_type ?? type)) {
      const objectName = attribute.object_type ?? type
      defineObject(objectName)
      schema = { $ref: `#/definitions/${objectName}` }
    } else schema = scalarSchema(type)
    const values = attribute.enum ?? known?.enum
    if (values) schema = { ...schema, enum: Object.keys(values).map((key) => (schema.type === 'integer' ? Number(key) : key)) }
    return (attribute.is_array ?? known?.is_array) ? { type: 'array', items: schema } : schema
  }

  const objectSchema = (flat: ReturnType<typeof flatten>): JsonSchema => {
    const properties: Record<string, JsonSchema> = {}
    const required: string[] = []
    const add = (attributes: Record<string, Attribute>, requiring: boolean) => {
      for (const [name, attribute] of Object.entries(attributes)) {
        properties[name] = attributeSchema(name, attribute)
        if (requiring && attribute.requirement === 'required') required.push(name)
      }
    }
    for (const [profile, attributes] of flat.profiles) add(Object.fromEntries(Object.entries(attributes).filter(([name]) => !(name in flat.attributes))), applied.includes(profile))
    add(flat.attributes, true)
    const schema: JsonSchema = { type: 'object', properties, required: [...new Set(required)], additionalProperties: false }
    if (flat.constraints?.at_least_one) schema.anyOf = flat.constraints.at_least_one.map((name) => ({ required: [name] }))
    if (flat.constraints?.just_one) schema.oneOf = flat.constraints.just_one.map((name) => ({ required: [name] }))
    return schema
  }

  const defineObject = (name: string) => {
    if (name in definitions) return
    definitions[name] = {}
    const definition = objects.get(name)
    if (!definition) throw new Error(`no OCSF object ${name}`)
    definitions[name] = objectSchema(flatten(definition, (parent) => objects.get(parent)))
  }

  const definition = (read(classFile) as Definition & { uid: number })
  const flat = flatten(definition, events)
  // The class's own numbers: its category's, its own (category × 1000 + its uid), and class × 100 + each activity.
  let categoryName = ''
  for (let d: Definition | undefined = definition; d && !categoryName; d = d.extends ? events(d.extends) : undefined) categoryName = d.category ?? ''
  const category = (read('categories.json') as { attributes: Record<string, { uid: number }> }).attributes[categoryName]
  if (!category) throw new Error(`no OCSF category ${categoryName}`)
  const classUid = category.uid * 1000 + definition.uid
  const activities = Object.keys(flat.attributes.activity_id?.enum ?? {}).map(Number)
  flat.attributes.category_uid = { ...flat.attributes.category_uid, enum: { [String(category.uid)]: {} } }
  flat.attributes.class_uid = { ...flat.attributes.class_uid, enum: { [String(classUid)]: {} } }
  flat.attributes.type_uid = { ...flat.attributes.type_uid, enum: Object.fromEntries(activities.map((a) => [String(classUid * 100 + a), {}])) }
  return { ...objectSchema(flat), definitions }
}

let detectionFindingValidator: ValidateFunction | undefined

/** Ajv's verdict on a Detection Finding (class 2004) with the cloud profile, as trailwatch writes them. */
export function validateDetectionFinding(finding: unknown): string[] {
  detectionFindingValidator ??= new Ajv({ allErrors: true, strict: false }).compile(ocsfClassSchema('events/findings/detection_finding.json', ['cloud']))
  return detectionFindingValidator(finding) ? [] : (detectionFindingValidator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
}
