// A module hook (node --import) that makes DuckDB's packages impossible to resolve, as on a platform that npm
// installed no prebuilt DuckDB binary for: the node's start-up failure can then be tested for real.
import { register } from 'node:module';

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@duckdb/')) {
    const error = new Error("Cannot find package '" + specifier + "' (hidden by test/support/without-duckdb.mjs)");
    error.code = 'ERR_MODULE_NOT_FOUND';
    throw error;
  }
  return next(specifier, context);
}`;

register(`data:text/javascript,${encodeURIComponent(hook)}`);
