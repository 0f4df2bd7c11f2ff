// Compiles the KAIROS JSON Schema with ajv (draft 2020-12), as a non-Python consumer would, and
// validates documents against its models.
//   node compile_schema.mjs SCHEMA.json [MODEL DOCUMENT.json]...
// Prints one JSON object: {"compiled": [model names], "results": [{model, valid, errors}]}.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [schemaPath, ...pairs] = process.argv.slice(2);
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const ajv = new Ajv2020({ strict: true, discriminator: true, allErrors: true });
addFormats(ajv);
// Annotations of ours that ajv's strict mode would otherwise reject as unknown keywords.
for (const keyword of ["x-trpc-procedures", "x-api-version", "x-frozen"]) ajv.addKeyword(keyword);
ajv.addSchema(schema);

const compiled = [];
for (const name of Object.keys(schema.$defs)) {
  ajv.getSchema(`${schema.$id}#/$defs/${name}`) ?? (() => { throw new Error(`cannot compile ${name}`); })();
  compiled.push(name);
}
const results = [];
for (let i = 0; i < pairs.length; i += 2) {
  const model = pairs[i];
  const document = JSON.parse(readFileSync(pairs[i + 1], "utf8"));
  const validate = ajv.getSchema(`${schema.$id}#/$defs/${model}`);
  const valid = validate(document);
  results.push({ model, valid, errors: (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`) });
}
console.log(JSON.stringify({ compiled, results }));
