import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { builtFile } from '../package-root';

/** One key of Apple's YAML schema format (see schemas/apple/README.md). */
interface AppleKey {
  key: string;
  type: string;
  presence?: 'required' | 'optional';
  rangelist?: unknown[];
  range?: { min?: number; max?: number };
  repetition?: { min?: number; max?: number };
  subkeys?: AppleKey[];
}

interface AppleSchemaFile {
  payload: { requesttype?: string; payloadtype?: string };
  payloadkeys?: AppleKey[];
}

type JsonSchema = Record<string, unknown>;

// Apple's YAML, turned into JSON by the build.
const APPLE_SCHEMAS = builtFile('schemas', 'apple');

/** Apple's key schema as JSON Schema. Plist `<data>` is a Buffer, `<date>` a Date. */
function keySchema(key: AppleKey): JsonSchema {
  const schema: JsonSchema = {};
  switch (key.type) {
    case '<string>':
      schema.type = 'string';
      // A string whose subkeys are its possible values (e.g. DeviceInformation queries).
      if (key.subkeys?.length) schema.enum = key.subkeys.map((k) => k.key);
      break;
    case '<integer>':
      schema.type = 'integer';
      break;
    case '<real>':
      schema.type = 'number';
      break;
    case '<boolean>':
      schema.type = 'boolean';
      break;
    case '<data>':
      schema.plistData = true;
      break;
    case '<date>':
      schema.plistDate = true;
      break;
    case '<dictionary>':
      Object.assign(schema, dictionarySchema(key.subkeys ?? []));
      break;
    case '<array>': {
      schema.type = 'array';
      const items = (key.subkeys ?? []).map(keySchema);
      if (items.length === 1) schema.items = items[0];
      else if (items.length > 1) schema.items = alternatives(key.subkeys!, items);
      if (key.repetition?.min !== undefined) schema.minItems = key.repetition.min;
      if (key.repetition?.max !== undefined) schema.maxItems = key.repetition.max;
      break;
    }
    case '<any>':
      break;
    default:
      throw new Error(`Apple schema key ${key.key} has unknown type ${key.type}`);
  }
  if (key.rangelist) schema.enum = key.rangelist;
  if (key.range?.min !== undefined) schema.minimum = key.range.min;
  if (key.range?.max !== undefined) schema.maximum = key.range.max;
  return schema;
}

/**
 * Several subkeys of an array are alternatives for each element (the Settings command's
 * items). Where a required key tells them apart (`Item`), only the matching one reports.
 */
function alternatives(keys: AppleKey[], schemas: JsonSchema[]): JsonSchema {
  const tag = keys[0].subkeys?.find(
    (k) =>
      k.presence === 'required' && k.rangelist && keys.every((alt) => alt.subkeys?.some((s) => s.key === k.key && s.presence === 'required' && s.rangelist)),
  );
  if (!tag) return { anyOf: schemas };
  return { type: 'object', discriminator: { propertyName: tag.key }, properties: { [tag.key]: { type: 'string' } }, required: [tag.key], oneOf: schemas };
}

/** A dictionary of the given keys; a key named ANY lets any other key in. */
function dictionarySchema(keys: AppleKey[]): JsonSchema {
  const named = keys.filter((k) => k.key !== 'ANY');
  return {
    type: 'object',
    properties: Object.fromEntries(named.map((k) => [k.key, keySchema(k)])),
    required: named.filter((k) => k.presence === 'required').map((k) => k.key),
    additionalProperties: keys.length === 0 || named.length < keys.length,
  };
}

function readSchema(file: string): AppleSchemaFile {
  return JSON.parse(readFileSync(file, 'utf8')) as AppleSchemaFile;
}

function readDir(dir: string): AppleSchemaFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readSchema(join(dir, f)));
}

/**
 * Apple's schemas for the commands and profiles this package sends, compiled with ajv.
 * Each validate function returns a list of problems, empty when the value conforms.
 */
export class AppleSchemas {
  private readonly commands = new Map<string, ValidateFunction>();
  private readonly payloads = new Map<string, ValidateFunction>();
  private readonly topLevel: ValidateFunction;
  private readonly ajv = new Ajv({ allErrors: true, strict: true, discriminator: true });

  constructor(dir = APPLE_SCHEMAS) {
    this.ajv.addKeyword({ keyword: 'plistData', schemaType: 'boolean', validate: (_: boolean, data: unknown) => Buffer.isBuffer(data) });
    this.ajv.addKeyword({ keyword: 'plistDate', schemaType: 'boolean', validate: (_: boolean, data: unknown) => data instanceof Date });
    for (const file of readDir(join(dir, 'commands'))) {
      const requestType = file.payload.requesttype!;
      const body = dictionarySchema(file.payloadkeys ?? []);
      const command = {
        ...body,
        properties: { RequestType: { const: requestType }, ...(body.properties as object) },
        required: ['RequestType', ...(body.required as string[])],
      };
      this.commands.set(
        requestType,
        this.ajv.compile({
          type: 'object',
          properties: { CommandUUID: { type: 'string', minLength: 1 }, Command: command },
          required: ['CommandUUID', 'Command'],
          additionalProperties: false,
        }),
      );
    }
    const profiles = readDir(join(dir, 'profiles'));
    const common = readSchema(join(dir, 'profiles', 'CommonPayloadKeys.json'));
    for (const file of profiles.filter((f) => f.payload.payloadtype && !['Configuration', 'Common'].includes(f.payload.payloadtype))) {
      // A payload's own definition of a common key (PayloadType, ...) wins.
      const keys = [...new Map([...(common.payloadkeys ?? []), ...(file.payloadkeys ?? [])].map((k) => [k.key, k])).values()];
      const schema = dictionarySchema(keys);
      (schema.properties as Record<string, JsonSchema>).PayloadType = { const: file.payload.payloadtype };
      this.payloads.set(file.payload.payloadtype!, this.ajv.compile(schema));
    }
    const top = readSchema(join(dir, 'profiles', 'TopLevel.json'));
    this.topLevel = this.ajv.compile(dictionarySchema(top.payloadkeys ?? []));
  }

  /** Problems with an MDM command `{CommandUUID, Command: {RequestType, ...}}`. */
  validateCommand(command: unknown): string[] {
    const requestType = (command as { Command?: { RequestType?: unknown } })?.Command?.RequestType;
    const validate = typeof requestType === 'string' ? this.commands.get(requestType) : undefined;
    if (!validate) return [`no Apple schema for RequestType ${JSON.stringify(requestType)}`];
    return this.problems(validate, command);
  }

  /** Problems with a configuration profile and each of its payloads. */
  validateProfile(profile: unknown): string[] {
    const problems = this.problems(this.topLevel, profile);
    const content = (profile as { PayloadContent?: unknown[] })?.PayloadContent ?? [];
    content.forEach((payload, i) => {
      const type = (payload as { PayloadType?: unknown })?.PayloadType;
      const validate = typeof type === 'string' ? this.payloads.get(type) : undefined;
      if (!validate) problems.push(`PayloadContent/${i}: no Apple schema for PayloadType ${JSON.stringify(type)}`);
      else problems.push(...this.problems(validate, payload).map((p) => `PayloadContent/${i}${p}`));
    });
    return problems;
  }

  /** Request types this package knows the schema of. */
  get requestTypes(): string[] {
    return [...this.commands.keys()].sort();
  }

  private problems(validate: ValidateFunction, value: unknown): string[] {
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`,
    );
  }
}

let shared: AppleSchemas | undefined;

/** The package's schemas, read once on first use. */
export function appleSchemas(): AppleSchemas {
  shared ??= new AppleSchemas();
  return shared;
}
