import { z } from 'zod';
const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: { err: { type: 'object', properties: { code: { type: 'string' } }, required: ['code'], additionalProperties: false } },
  properties: {
    status: { enum: ['A', 'B'] },
    n: { type: 'integer', minimum: 1 },
    at: { type: 'string', format: 'date-time' },
    error: { $ref: '#/$defs/err' },
    v: { const: 1 },
  },
  required: ['status', 'v'],
  additionalProperties: false,

};
try {
const s = z.fromJSONSchema(schema);
for (const v of [{status:'A',v:1},{status:'B',v:1},{status:'A',v:1,x:1},{status:'A',v:1,at:'nope'},{status:'A',v:1,error:{code:'x',y:1}},{status:'B',v:1,error:{code:'x'}}, {status:'A', v:1, n:1.5}])
  console.log(JSON.stringify(v), s.safeParse(v).success);
} catch (e) { console.log('ERR', e.message); }
