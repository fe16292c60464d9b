// A module resolve hook: Next.js's `@/lib/<name>` alias, pointed at the README's
// snippet files, so the route-handler snippet runs here exactly as pasted.
export async function resolve(specifier, context, next) {
  const alias = /^@\/lib\/([\w-]+)$/.exec(specifier);
  if (alias) return next(new URL(`../snippets/${alias[1]}.mjs`, import.meta.url).href, context);
  return next(specifier, context);
}
