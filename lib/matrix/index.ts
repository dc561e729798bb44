export { ACTIONS, SCOPES, AUDIT_KEYS, MatrixError, parseMatrix, type Action, type Scope, type Matrix, type MatrixRole, type ParseOptions, type AuditRules } from './parse.js';
export { compileKey } from './cache.js';
export { readSchema, readSchemaFromSql, readSchemaFromFiles, schemaCacheDir, listMigrations, loadSqlParser, type SchemaInfo, type TableInfo, type ColumnInfo } from './schema.js';
export {
  compileMatrix,
  tableModels,
  knownTableNames,
  auditTableColumns,
  scopeCondition,
  AUDIT_LOG_TABLE,
  type Compiled,
  type TestData,
  type TableModel,
  type Cell,
  type TableKind,
} from './compile.js';
export {
  writeCompiled,
  planCompiled,
  compileApp,
  nextVersion,
  MATRIX_FILE,
  MIGRATIONS_DIR,
  GUARD_MAP_FILE,
  TEST_DATA_FILE,
  FIRST_PERMISSIONS_VERSION,
  type WriteResult,
  type CompiledPlan,
} from './write.js';
export { newMigrationFileName, migrationFileName } from './migrations.js';
