// graphql-codegen: the client's types, from the checked-in SDL and the documents in
// src/operations.ts. Run by `npm run build` (and `npm run codegen`); the output is not committed.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema/schema.graphql",
  documents: ["src/operations.ts"],
  generates: {
    "src/generated/graphql.ts": {
      // typescript-operations 6 emits the enums and input types the documents use by itself.
      plugins: ["typescript-operations"],
      config: {
        // The schema's custom scalars, as they travel in JSON (and `Upload` as a browser sends it).
        scalars: {
          ID: "string",
          DateTime: "string",
          JSON: "unknown",
          Upload: "File | Blob",
        },
        strictScalars: true,
        // String unions, not TypeScript enums: no runtime code, and `code === "NOT_FOUND"` works.
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: false,
        nonOptionalTypename: true,
      },
    },
  },
};

export default config;
