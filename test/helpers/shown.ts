import { readFile } from 'node:fs/promises'

/**
 * Whether the markdown file shows the example file word for word in a ts block, importing the
 * package where the example imports our sources (both paths from the repository's root).
 */
export async function showsExample (markdown: string, example: string): Promise<boolean> {
  const root = new URL('../../', import.meta.url)
  const text = await readFile(new URL(markdown, root), 'utf8')
  const source = (await readFile(new URL(example, root), 'utf8'))
    .replace("'../index.js'", "'fastify-im-delete'")
    .replace("'../lib/test-kit/index.js'", "'fastify-im-delete/test-kit'")
    .replace("'../postgres.js'", "'fastify-im-delete/postgres'")
  return text.includes('```ts\n' + source + '```\n')
}
