export { UserError } from './errors.js';
export { packageRoot, builtinTemplatesDir } from './paths.js';
export { validateAppName, assertSafeRelativePath } from './names.js';
export { collectLayers, outputPathOf, assertTemplateDir, type TemplateFile } from './templates.js';
export { TemplateRenderer, renderFiles, assertNoUnrenderedPlaceholders, type RenderedFile } from './render.js';
export { assertWritableTarget, writeAtomically, writeTree, listTree, type OutputFile } from './write.js';
export { applyChanges, effectiveChanges, readProjectFile, insertAtMarker, type PlannedChange } from './changes.js';
