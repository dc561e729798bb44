import type { NodePlopAPI } from 'node-plop';
import { GENERATORS, generatorNames } from './registry.js';
import { runGenerator } from '../lib/cli/add.js';

/**
 * Registers every feature generator with plop, so `npx plop <name>` inside a generated app runs the
 * same prompts and the same planned, idempotent changes as `xms add <name>`.
 */
export async function registerGenerators(plop: NodePlopAPI): Promise<void> {
  for (const name of generatorNames()) {
    const generator = await GENERATORS[name]!();
    plop.setGenerator(name, {
      description: generator.description,
      prompts: generator.questions.map((question) => ({
        type: question.type === 'select' ? 'list' : question.type,
        name: question.name,
        message: question.message,
        choices: question.choices as string[] | undefined,
        default: question.default,
        validate: question.validate ? (value: string) => question.validate!(value) : undefined,
      })),
      actions: [
        async (answers) => (await runGenerator(generator, plop.getDestBasePath(), answers as Record<string, string | boolean>, false)).join('\n'),
      ],
    });
  }
}
